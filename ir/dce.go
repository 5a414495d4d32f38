// This file implements the dce pass.

package ir

// dce removes the values that no output or update needs, keeping the
// inputs and the in-place optimizer updates.
func dce(g *Graph) error {
	removeDead(g)
	return nil
}
