// Package fieldlink holds the files built into the fieldlink binary. It sits
// at the top of the module only because go:embed cannot reach a parent
// directory, and the scenarios belong in testdata/ beside the other test
// inputs.
package fieldlink

import "embed"

// Scenarios are the built-in demo scenarios (testdata/scenarios/*.scn).
//
//go:embed testdata/scenarios/*.scn
var Scenarios embed.FS
