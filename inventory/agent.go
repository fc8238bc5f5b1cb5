package inventory

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rackpulse/rackpulse/bmc"
)

// AgentAuth says where the token an in-band agent presents for a server is
// kept: an environment variable or a file, read when tokens are resolved,
// never the token itself. Set in a defaults block it is a secret shared by
// the servers below; set on a server, that server's own.
type AgentAuth struct {
	TokenEnv  string `yaml:"token_env,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
	// Source is where the block was written (zero when it was not).
	Source Source `yaml:"-"`
}

// IsSet reports whether the block names a token.
func (a AgentAuth) IsSet() bool { return a.TokenEnv != "" || a.TokenFile != "" }

// agentAuth decodes an agent block: exactly one of token_env, token_file.
func (d *decoder) agentAuth(n *yaml.Node, path string) AgentAuth {
	a := AgentAuth{Source: d.source(n, path)}
	given := d.mapping(n, path, []field{
		{"token_env", d.token(&a.TokenEnv, "environment variable name")},
		{"token_file", d.str(&a.TokenFile)},
	})
	switch {
	case len(given) == 0:
		d.errorf(n, path, "agent block names no token: set token_env or token_file")
	case len(given) > 1:
		d.errorf(given["token_file"], joinPath(path, "token_file"), "set only one of token_env, token_file")
	}
	if k, ok := given["token_env"]; ok {
		d.checkPasswordEnv(k, joinPath(path, "token_env"), a.TokenEnv)
	}
	if k, ok := given["token_file"]; ok {
		a.TokenFile = d.localPath(a.TokenFile)
		d.checkPasswordFile(k, joinPath(path, "token_file"), a.TokenFile)
	}
	return a
}

// AgentTokens reads the agent token of every server of the given racks
// (every rack when racks is empty) that has one, from its environment
// variable or file now. Errors name the server and where the token was
// looked for, never a value.
func (inv *Inventory) AgentTokens(racks []string) (map[string]bmc.Secret, error) {
	selected, err := inv.selectRacks(racks)
	if err != nil {
		return nil, err
	}
	tokens := map[string]bmc.Secret{}
	read := map[AgentAuth]bmc.Secret{}
	for _, rack := range selected {
		for i := range rack.Servers {
			s := &rack.Servers[i]
			a := s.Agent
			if !a.IsSet() {
				continue
			}
			key := AgentAuth{TokenEnv: a.TokenEnv, TokenFile: a.TokenFile}
			tok, ok := read[key]
			if !ok {
				if tok, err = a.token(); err != nil {
					return nil, fmt.Errorf("server %s: %w", s.Name, err)
				}
				read[key] = tok
			}
			tokens[s.Name] = tok
		}
	}
	return tokens, nil
}

func (a AgentAuth) token() (bmc.Secret, error) {
	if a.TokenEnv != "" {
		v, ok := os.LookupEnv(a.TokenEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("agent token: environment variable %s is not set", a.TokenEnv)
		}
		return bmc.Secret(v), nil
	}
	raw, err := readRegularFile(a.TokenFile, maxPasswordFileBytes)
	if err != nil {
		return "", fmt.Errorf("agent token file: %w", err)
	}
	tok := strings.TrimRight(string(raw), "\r\n")
	if tok == "" {
		return "", fmt.Errorf("agent token file %s is empty", a.TokenFile)
	}
	return bmc.Secret(tok), nil
}
