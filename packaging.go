package fieldlink

import _ "embed"

// BusPolicy is the D-Bus policy the package installs: only root may own
// the name that makes a fieldlink the one in charge of the device. The
// tests' private buses load it too, so they enforce what a device does.
//
//go:embed packaging/dbus/uk.nhs.fieldlink.conf
var BusPolicy []byte
