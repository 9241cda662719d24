package main

import "github.com/spf13/cobra"

func newShowCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "show FILE", Short: "Print the records of a capture", Args: exactArgs(1)}
}
