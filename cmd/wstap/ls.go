package main

import "github.com/spf13/cobra"

func newLsCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "ls FILE", Short: "List the connections of a capture", Args: exactArgs(1)}
}
