package inventory

import (
	"fmt"
	"strings"
)

// suggest returns ` (did you mean "x"?)` for the known word closest to a
// mistyped one, or the list of known words when none is close.
func suggest(word string, known []string) string {
	if best, ok := closest(word, known); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known fields: " + strings.Join(known, ", ") + ")"
}

// closest returns the known word closest to a mistyped one, ignoring case,
// when it is close enough to be what was meant.
func closest(word string, known []string) (string, bool) {
	best, bestDist := "", -1
	for _, k := range known {
		if d := EditDistance(strings.ToLower(word), strings.ToLower(k)); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best, best != "" && bestDist <= max(2, len(word)/3)
}

// EditDistance is the Levenshtein distance between a and b, counting an
// adjacent transposition as one edit: how far a mistyped name is from a
// known one, for "did you mean" hints.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
