package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/rackpulse/rackpulse/inventory"
)

// newInventoryCmd builds `rackpulse inventory`: checking and showing the
// inventory file or directory (--inventory, or the PATH argument).
func newInventoryCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Check and show the inventory of rooms, racks, servers and BMCs",
		Long: `The inventory lists the site's rooms, rows and racks, the servers in them,
their BMC addresses, credential profiles, rack power budgets and feeds.
See docs/inventory.md for the format.`,
	}
	cmd.AddCommand(newInventoryValidateCmd(v), newInventoryShowCmd(v))
	return cmd
}

func newInventoryValidateCmd(v *viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH]",
		Short: "Check an inventory and list every problem with its file and line",
		Long: `validate reads an inventory file or directory, checks it without any network
access, and prints every problem (FILE:LINE: PATH: MESSAGE), then a summary.
It exits 1 when there are errors and 0 when there are only warnings.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := inventoryPath(v, args)
			inv, problems, err := loadInventory(v, path, cmd.ErrOrStderr())
			if werr := inventory.WriteReport(cmd.OutOrStdout(), inv, problems); werr != nil {
				return fmt.Errorf("writing report: %w", werr)
			}
			if err != nil {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}

func newInventoryShowCmd(v *viper.Viper) *cobra.Command {
	var racks []string
	cmd := &cobra.Command{
		Use:   "show [PATH]",
		Short: "Print the inventory as a tree: site, rooms, rows, racks and servers",
		Long: `show prints the inventory with counts at every level, each rack's power budget
and feed capacities, and each server's rack units, BMC protocol, address and
credential profile name. Passwords are never shown. Problems, if any, go to
standard error; with errors the tree is still shown and the exit status is 1.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, problems, err := loadInventory(v, inventoryPath(v, args), cmd.ErrOrStderr())
			if len(problems) > 0 {
				if werr := inventory.WriteReport(cmd.ErrOrStderr(), inv, problems); werr != nil {
					return fmt.Errorf("writing report: %w", werr)
				}
			}
			if inv != nil {
				if terr := inventory.WriteTree(cmd.OutOrStdout(), inv, racks); terr != nil {
					return terr
				}
			}
			if err != nil {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&racks, "racks", nil, "show only these racks (comma-separated names)")
	return cmd
}

func inventoryPath(v *viper.Viper, args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return v.GetString("inventory")
}

// loadInventory loads and logs how the load went.
func loadInventory(v *viper.Viper, path string, logTo io.Writer) (*inventory.Inventory, inventory.Problems, error) {
	logger := newLogger(v, logTo)
	start := time.Now()
	inv, problems, err := inventory.Load(path)
	files := 0
	if inv != nil {
		files = len(inv.Files)
	}
	var ps inventory.Problems
	errors.As(err, &ps)
	logger.Debug("inventory loaded", "path", path, "files", files,
		"errors", len(ps), "warnings", len(problems.Warnings()), "duration", time.Since(start))
	return inv, problems, err
}
