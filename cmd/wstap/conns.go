package main

import (
	"fmt"
	"slices"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/replay"
)

// pickConns resolves a --conn flag against a capture: "" is the only
// connection of a file that has one; N, a list ("1,3-5") or "all" when many
// is set. The error names the flag and says which connections exist.
func pickConns(r *capture.Reader, path, flag, spec string, many bool) ([]capture.ConnID, error) {
	conns := r.Conns()
	if spec == "" {
		if len(conns) == 1 {
			return []capture.ConnID{conns[0].Conn}, nil
		}
		return nil, usagef("%s: choose a connection with %s N (%s)", path, flag, connRange(conns))
	}
	if spec == "all" {
		if !many {
			return nil, usagef("%s all: this command takes one connection", flag)
		}
		if len(conns) == 0 {
			return nil, fmt.Errorf("%s has no connections", path)
		}
		out := make([]capture.ConnID, len(conns))
		for i, c := range conns {
			out[i] = c.Conn
		}
		return out, nil
	}
	ranges, err := replay.ParseRanges(spec)
	if err != nil {
		return nil, usagef("%s %w", flag, err)
	}
	if !many && (len(ranges) != 1 || ranges[0].From != ranges[0].To) {
		return nil, usagef("%s %s: this command takes one connection", flag, spec)
	}
	var out []capture.ConnID
	for _, rg := range ranges {
		hi := rg.To
		if hi == 0 && len(conns) > 0 {
			hi = int(conns[len(conns)-1].Conn)
		}
		for id := rg.From; id <= hi; id++ {
			if _, ok := r.Conn(capture.ConnID(id)); !ok {
				return nil, fmt.Errorf("%s has no connection %d (%s)", path, id, connRange(conns))
			}
			if !slices.Contains(out, capture.ConnID(id)) {
				out = append(out, capture.ConnID(id))
			}
		}
	}
	return out, nil
}
