package sim

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// PasswordEnv names the environment variable holding the simulated BMCs'
// password; DefaultPassword is used when it is unset.
const (
	PasswordEnv     = "RACKPULSE_SIM_PASSWORD"
	DefaultPassword = "sim-password"
	DefaultUsername = "admin"
)

// Inventory file shape, as the inventory loader reads it.
type (
	invFile struct {
		Site        string                    `yaml:"site"`
		Credentials map[string]invCredentials `yaml:"credentials"`
		Defaults    invDefaults               `yaml:"defaults"`
		Rooms       []invRoom                 `yaml:"rooms"`
	}
	invCredentials struct {
		Username    string `yaml:"username"`
		PasswordEnv string `yaml:"password_env"`
		CAFile      string `yaml:"ca_file,omitempty"`
		CipherSuite int    `yaml:"cipher_suite,omitempty"`
		Privilege   string `yaml:"privilege,omitempty"`
	}
	invDefaults struct {
		BMC invBMCDefaults `yaml:"bmc"`
	}
	invBMCDefaults struct {
		Protocol     string `yaml:"protocol"`
		Credentials  string `yaml:"credentials"`
		PollInterval string `yaml:"poll_interval"`
	}
	invRoom struct {
		Name string   `yaml:"name"`
		Rows []invRow `yaml:"rows"`
	}
	invRow struct {
		Name  string    `yaml:"name"`
		Racks []invRack `yaml:"racks"`
	}
	invRack struct {
		Name             string             `yaml:"name"`
		PowerBudgetWatts int                `yaml:"power_budget_watts"`
		Feeds            map[string]invFeed `yaml:"feeds"`
		Servers          []invServer        `yaml:"servers"`
	}
	invFeed struct {
		CapacityWatts int `yaml:"capacity_watts"`
	}
	invServer struct {
		Name     string `yaml:"name"`
		Position int    `yaml:"position"`
		Height   int    `yaml:"height"`
		Model    string `yaml:"model"`
		BMC      invBMC `yaml:"bmc"`
	}
	invBMC struct {
		Address     string `yaml:"address"`
		Protocol    string `yaml:"protocol,omitempty"`
		Credentials string `yaml:"credentials,omitempty"`
	}
)

// ipmiCredentials names the inventory's credential profile of the IPMI
// BMCs: RMCP+ cipher suite 3 at ADMINISTRATOR privilege.
const ipmiCredentials = "sim-ipmi"

// Rack sizing written into the inventory. A rack's power budget is the sum
// of its servers' maximum input power over healthyBudgetShare, rounded up to
// budgetStepWatts: a healthy rack stays below that share of its budget even
// with every server at its peak at once. Each of the two feeds, A and B, is
// sized to carry the whole budget alone, as A/B feeds are.
const (
	healthyBudgetShare = 0.7
	budgetStepWatts    = 500
	// unknownServerMaxInputWatts stands for a server whose draw the
	// simulator does not model (one serving a mockup).
	unknownServerMaxInputWatts = 1000
)

// rackBudgetWatts is the power budget of a rack whose servers draw at most
// maxInputWatts each.
func rackBudgetWatts(maxInputWatts []float64) int {
	var sum float64
	for _, w := range maxInputWatts {
		sum += w
	}
	return int(math.Ceil(sum/healthyBudgetShare/budgetStepWatts)) * budgetStepWatts
}

// maxInputWatts is the most the BMC's server draws while healthy.
func (b *SimBMC) maxInputWatts() float64 {
	if b.machine == nil {
		return unknownServerMaxInputWatts
	}
	return b.machine.profile.layout.maxInputWatts()
}

// rackBudgets is the power budget of each rack of the fleet, by name.
func (f *Fleet) rackBudgets() map[string]int {
	perRack := map[string][]float64{}
	for _, b := range f.bmcs {
		perRack[b.rack] = append(perRack[b.rack], b.maxInputWatts())
	}
	out := make(map[string]int, len(perRack))
	for rack, watts := range perRack {
		out[rack] = rackBudgetWatts(watts)
	}
	return out
}

// writeInventory writes the fleet's inventory.yaml into dir.
func (f *Fleet) writeInventory(dir, caFile string) (string, error) {
	inv := invFile{
		Site:        "sim",
		Credentials: map[string]invCredentials{},
		Defaults:    invDefaults{BMC: invBMCDefaults{Protocol: "redfish", Credentials: "sim", PollInterval: "30s"}},
		Rooms:       []invRoom{{Name: "room-1"}},
	}
	// A credentials profile per protocol in use, and no other: an unused
	// profile is a warning in `inventory validate`.
	for _, b := range f.bmcs {
		if b.ipmi != nil {
			inv.Credentials[ipmiCredentials] = invCredentials{
				Username: f.opts.Username, PasswordEnv: PasswordEnv, CipherSuite: 3, Privilege: "ADMINISTRATOR",
			}
		} else {
			inv.Credentials["sim"] = invCredentials{Username: f.opts.Username, PasswordEnv: PasswordEnv, CAFile: caFile}
		}
	}
	if _, redfish := inv.Credentials["sim"]; !redfish {
		inv.Defaults.BMC.Protocol, inv.Defaults.BMC.Credentials = "ipmi", ipmiCredentials
	}
	room := &inv.Rooms[0]
	budgets := f.rackBudgets()
	for _, b := range f.bmcs {
		if len(room.Rows) == 0 || b.rackIndex/f.opts.RacksPerRow >= len(room.Rows) {
			room.Rows = append(room.Rows, invRow{Name: fmt.Sprintf("row-%d", len(room.Rows)+1)})
		}
		row := &room.Rows[len(room.Rows)-1]
		if len(row.Racks) == 0 || row.Racks[len(row.Racks)-1].Name != b.rack {
			budget := budgets[b.rack]
			row.Racks = append(row.Racks, invRack{
				Name:             b.rack,
				PowerBudgetWatts: budget,
				Feeds:            map[string]invFeed{"A": {CapacityWatts: budget}, "B": {CapacityWatts: budget}},
			})
		}
		rack := &row.Racks[len(row.Racks)-1]
		server := invServer{
			Name: b.name, Position: b.position, Height: 1, Model: b.model,
			BMC: invBMC{Address: b.URL()},
		}
		if b.ipmi != nil {
			server.BMC.Protocol, server.BMC.Credentials = "ipmi", ipmiCredentials
		}
		rack.Servers = append(rack.Servers, server)
	}
	data, err := yaml.Marshal(inv)
	if err != nil {
		return "", fmt.Errorf("encoding inventory: %w", err)
	}
	header := []byte("# Inventory of the simulated fleet, written by `rackpulse sim`.\n# The password is read from $" + PasswordEnv + ", as the simulator read it.\n")
	path := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(path, append(header, data...), 0o644); err != nil {
		return "", fmt.Errorf("writing inventory %s: %w", path, err)
	}
	return path, nil
}
