package redfish

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stmcginnis/gofish/schemas"
)

// Properties of another shape than the type says are coerced or left out,
// one by one; the rest of the resource is read; what was done is said.
func TestDecodeTolerantShapes(t *testing.T) {
	type link = odataID
	type chassisLinks struct {
		Links struct {
			ContainedBy link
			Chassis     []link
			Drives      []link
		}
		Name string
	}
	tests := []struct {
		name string
		body string
		into func() any
		// check returns what is wrong with the decoded value, "" if right.
		check func(v any) string
		want  []deviation
	}{
		{
			name: "an array where one object is expected: the first (Intel server board ContainedBy)",
			body: `{"Name":"Baseboard","Links":{"ContainedBy":[{"@odata.id":"/redfish/v1/Chassis/RackMount"}],"Drives":[{"@odata.id":"/d/0"}]}}`,
			into: func() any { return new(chassisLinks) },
			check: func(v any) string {
				c := v.(*chassisLinks)
				if c.Links.ContainedBy.ID != "/redfish/v1/Chassis/RackMount" || c.Name != "Baseboard" || len(c.Links.Drives) != 1 {
					return "got " + mustJSON(c)
				}
				return ""
			},
			want: []deviation{{"Links.ContainedBy", "array of 1 object", "read the first object"}},
		},
		{
			name: "one object where an array is expected (Memory, Processor and Drive Links.Chassis per the DMTF schema)",
			body: `{"Links":{"Chassis":{"@odata.id":"/redfish/v1/Chassis/1"}},"Name":"DIMM 1"}`,
			into: func() any { return new(chassisLinks) },
			check: func(v any) string {
				c := v.(*chassisLinks)
				if len(c.Links.Chassis) != 1 || c.Links.Chassis[0].ID != "/redfish/v1/Chassis/1" || c.Name != "DIMM 1" {
					return "got " + mustJSON(c)
				}
				return ""
			},
			want: []deviation{{"Links.Chassis", "object", "read as a list of one"}},
		},
		{
			name: "a list with one bad member keeps the others",
			body: `{"Links":{"Drives":[{"@odata.id":"/d/0"},"/d/1",{"@odata.id":"/d/2"}]}}`,
			into: func() any { return new(chassisLinks) },
			check: func(v any) string {
				if d := v.(*chassisLinks).Links.Drives; len(d) != 2 || d[1].ID != "/d/2" {
					return "drives " + mustJSON(d)
				}
				return ""
			},
			want: []deviation{{"Links.Drives", "array of 3", "1 elements left out"}},
		},
		{
			name: "a power shelf's PSU: capacity as a string",
			body: `{"Name":"PSU 1","PowerCapacityWatts":"5500","SerialNumber":"SN1","InputNominalVoltageType":"AC200To240V"}`,
			into: func() any { return new(schemas.PowerSupplyUnit) },
			check: func(v any) string {
				p := v.(*schemas.PowerSupplyUnit)
				if p.PowerCapacityWatts == nil || *p.PowerCapacityWatts != 5500 || p.SerialNumber != "SN1" {
					return "got " + mustJSON(p)
				}
				return ""
			},
			want: []deviation{{"PowerCapacityWatts", `string "5500"`, "read as 5500"}},
		},
		{
			name: "a power shelf's chassis: PowerState as a boolean",
			body: `{"Id":"Shelf1","Name":"Power Shelf","ChassisType":"Shelf","PowerState":true,"Status":{"Health":"OK","State":"Enabled"}}`,
			into: func() any { return new(schemas.Chassis) },
			check: func(v any) string {
				c := v.(*schemas.Chassis)
				if c.PowerState != schemas.OnPowerState || c.Status.Health != schemas.OKHealth {
					return "got " + mustJSON(c)
				}
				return ""
			},
			want: []deviation{{"PowerState", "boolean true", `read as "On"`}},
		},
		{
			name: "a legacy Power's supply with a string capacity, inside the resource's array",
			body: `{"Id":"Power","PowerControl":[],"PowerSupplies":[{"MemberId":"0","PowerCapacityWatts":"1600","LastPowerOutputWatts":400},{"MemberId":"1","PowerCapacityWatts":1600}]}`,
			into: func() any { return new(schemas.Power) },
			check: func(v any) string {
				p := v.(*schemas.Power)
				if len(p.PowerSupplies) != 2 || p.PowerSupplies[0].PowerCapacityWatts == nil || *p.PowerSupplies[0].PowerCapacityWatts != 1600 ||
					*p.PowerSupplies[1].PowerCapacityWatts != 1600 {
					return "got " + mustJSON(p.PowerSupplies)
				}
				return ""
			},
			want: []deviation{{"PowerSupplies.PowerCapacityWatts", `string "1600"`, "read as 1600"}},
		},
		{
			name: "a number where a string is expected",
			body: `{"Id":"M.2-2","Name":"M.2-2","CapacityBytes":1000,"Model":"NVMe 1000","SerialNumber":12345}`,
			into: func() any { return new(schemas.Drive) },
			check: func(v any) string {
				if d := v.(*schemas.Drive); d.Model != "NVMe 1000" || d.SerialNumber != "12345" || d.CapacityBytes == nil || *d.CapacityBytes != 1000 {
					return "got " + mustJSON(d)
				}
				return ""
			},
			want: []deviation{{"SerialNumber", "number 12345", `read as "12345"`}},
		},
		{
			name: "what cannot be read as the type wants is left out, alone",
			body: `{"Name":"PSU 2","PowerCapacityWatts":"about 5 kW","SerialNumber":{"x":1},"Model":"M"}`,
			into: func() any { return new(schemas.PowerSupplyUnit) },
			check: func(v any) string {
				p := v.(*schemas.PowerSupplyUnit)
				if p.PowerCapacityWatts != nil || p.Model != "M" || p.Name != "PSU 2" {
					return "got " + mustJSON(p)
				}
				return ""
			},
			want: []deviation{
				{"PowerCapacityWatts", `string "about 5 kW"`, "left out"},
				{"SerialNumber", "object", "left out"},
			},
		},
		{
			name: "a whole number written with a fraction, a string boolean",
			body: `{"Links":{},"Count":12.0,"On":"TRUE"}`,
			into: func() any {
				return new(struct {
					Count int
					On    bool
				})
			},
			check: func(v any) string {
				if !reflect.DeepEqual(v, &struct {
					Count int
					On    bool
				}{12, true}) {
					return "got " + mustJSON(v)
				}
				return ""
			},
			want: []deviation{{"Count", "number 12.0", "read as 12"}, {"On", `string "TRUE"`, "read as true"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.into()
			devs, err := decodeTolerant([]byte(tc.body), v)
			if err != nil {
				t.Fatalf("not decoded: %v (deviations %+v)", err, devs)
			}
			if msg := tc.check(v); msg != "" {
				t.Error(msg)
			}
			if !reflect.DeepEqual(devs, tc.want) {
				t.Errorf("deviations\n got %+v\nwant %+v", devs, tc.want)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Not JSON stays an error; a body whose every property is wrong stays one
// past the bound.
func TestDecodeTolerantGivesUp(t *testing.T) {
	if _, err := decodeTolerant([]byte(`{"Name":`), new(schemas.Chassis)); err == nil {
		t.Error("truncated JSON decoded")
	}
	var b strings.Builder
	b.WriteString("{")
	type many struct {
		A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, D0, D1, D2 float64
	}
	for i, k := range []string{"A", "B", "C", "D"} {
		for j := range 10 {
			if i == 3 && j > 2 {
				break
			}
			if b.Len() > 1 {
				b.WriteString(",")
			}
			b.WriteString(`"` + k + string(rune('0'+j)) + `":"x"`)
		}
	}
	b.WriteString("}")
	if devs, err := decodeTolerant([]byte(b.String()), new(many)); err == nil || len(devs) != maxDeviations {
		t.Errorf("33 bad properties: %d deviations, err %v; want the bound hit and an error", len(devs), err)
	}
}
