package inventory

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rackpulse/rackpulse/bmc"
)

// Endpoints resolves the servers of the given racks (every rack when racks
// is empty) into poll targets, in inventory order, with defaults inherited,
// limits defaulted (bmc.Endpoint.WithDefaults) and credentials resolved: each
// profile's password is read from its environment variable or file now, so
// a rotated password is picked up by calling Endpoints again. An unknown
// rack name is an error.
func (inv *Inventory) Endpoints(racks []string) ([]bmc.Endpoint, error) {
	selected, err := inv.selectRacks(racks)
	if err != nil {
		return nil, err
	}
	passwords := map[string]bmc.Secret{}
	var endpoints []bmc.Endpoint
	var errs []error
	for _, rack := range selected {
		for i := range rack.Servers {
			s := &rack.Servers[i]
			ep, err := inv.endpoint(s, passwords)
			if err != nil {
				errs = append(errs, fmt.Errorf("server %s: %w", s.Name, err))
				continue
			}
			endpoints = append(endpoints, ep)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return endpoints, nil
}

// Endpoint resolves one server into its poll target, as Endpoints does,
// reading only that server's credential profile: a profile other servers
// use, whose variable or file is missing here, is no concern of this one.
// An unknown server is an error.
func (inv *Inventory) Endpoint(server string) (bmc.Endpoint, error) {
	s, ok := inv.Server(server)
	if !ok {
		return bmc.Endpoint{}, fmt.Errorf("no server %q in the inventory of site %s", server, inv.Site)
	}
	ep, err := inv.endpoint(s, map[string]bmc.Secret{})
	if err != nil {
		return bmc.Endpoint{}, fmt.Errorf("server %s: %w", s.Name, err)
	}
	return ep, nil
}

// LoadForServer loads the inventory at path, as Load does, for the sake of
// one server (rackpulse probe SERVER): a credential profile's password
// source that cannot be read now (an unset password_env, a missing
// password_file) is an error only for the profile the server uses; for
// every other profile it is kept as a warning, since that server needs
// none of them. Every other problem counts as Load counts it.
func LoadForServer(path, server string) (*Inventory, Problems, error) {
	inv, problems, _ := load(path, os.LookupEnv)
	own := ""
	if inv != nil {
		if s, ok := inv.Server(server); ok {
			own = s.Effective.Credentials
		}
	}
	for i := range problems {
		p := &problems[i]
		if profile, ok := passwordSourceProfile(p.Path); ok && profile != own && inv != nil {
			if _, defined := inv.Credentials[profile]; defined {
				p.Warning = true
			}
		}
	}
	if errs := problems.Errors(); len(errs) > 0 {
		return inv, problems, errs
	}
	return inv, problems, nil
}

// passwordSourceProfile names the credential profile whose password_env or
// password_file a problem's YAML path points at.
func passwordSourceProfile(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "credentials.")
	if !ok {
		return "", false
	}
	for _, key := range []string{".password_env", ".password_file"} {
		if profile, ok := strings.CutSuffix(rest, key); ok && profile != "" {
			return profile, true
		}
	}
	return "", false
}

// SelectRacks returns the named racks in inventory order, or every rack
// when names is empty. Unknown names are an error naming them all.
func (inv *Inventory) SelectRacks(names []string) ([]*Rack, error) {
	return inv.selectRacks(names)
}

func (inv *Inventory) selectRacks(names []string) ([]*Rack, error) {
	all := inv.Racks()
	if len(names) == 0 {
		return all, nil
	}
	var unknown []string
	for _, n := range names {
		if !slices.ContainsFunc(all, func(r *Rack) bool { return r.Name == n }) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown rack %s in inventory of site %s", strings.Join(unknown, ", "), inv.Site)
	}
	var out []*Rack
	for _, r := range all {
		if slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (inv *Inventory) endpoint(s *Server, passwords map[string]bmc.Secret) (bmc.Endpoint, error) {
	e := s.Effective
	if e.Protocol == "" {
		return bmc.Endpoint{}, errors.New("inventory was not loaded with Load")
	}
	profile, ok := inv.Credentials[e.Credentials]
	if !ok {
		return bmc.Endpoint{}, fmt.Errorf("unknown credential profile %q", e.Credentials)
	}
	password, ok := passwords[profile.Name]
	if !ok {
		var err error
		if password, err = profile.password(); err != nil {
			return bmc.Endpoint{}, err
		}
		passwords[profile.Name] = password
	}
	ep := bmc.Endpoint{
		Server:             s.Name,
		Rack:               s.Rack,
		Protocol:           e.Protocol,
		Address:            e.Address,
		Username:           profile.Username,
		Password:           password,
		CredentialsProfile: profile.Name,
		TLS:                e.TLS.config(),
		Cadence: bmc.Cadence{
			Readings: e.PollInterval,
			Slow:     e.SlowInterval,
			Static:   e.StaticInterval,
		},
		MaxInFlight:    profile.MaxInFlight,
		RequestTimeout: e.RequestTimeout,
		CipherSuite:    profile.CipherSuite,
		Privilege:      profile.Privilege,
		IPMIPort:       e.IPMIPort,
	}
	return ep.WithDefaults(), nil
}

// password reads the profile's password from where it says. Errors name
// the variable or file, never the value.
func (p CredentialProfile) password() (bmc.Secret, error) {
	switch {
	case p.PasswordEnv != "":
		v, ok := os.LookupEnv(p.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("credential profile %q: environment variable %s is not set", p.Name, p.PasswordEnv)
		}
		return bmc.Secret(v), nil
	case p.PasswordFile != "":
		data, err := readRegularFile(p.PasswordFile, maxPasswordFileBytes)
		if err != nil {
			return "", fmt.Errorf("credential profile %q: reading password_file: %w", p.Name, err)
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			return "", fmt.Errorf("credential profile %q: password_file %s is empty", p.Name, p.PasswordFile)
		}
		return bmc.Secret(v), nil
	case !p.Password.IsZero():
		return p.Password, nil
	}
	return "", fmt.Errorf("credential profile %q has no password", p.Name)
}
