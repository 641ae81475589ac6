// Package areas names where fieldlink's records were taken. fieldlink
// records a place as a code (the serving cell's network and tracking or
// location area, a position rounded to about a kilometre, or a Wi-Fi
// network's name), and an area map IT keeps turns codes into names a
// manager knows ("Northfield") for the screen, the journal and the
// reports. Codes the map does not name are listed in reports, so IT can
// name them.
package areas

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/pelletier/go-toml/v2"
)

// Place is where a sample was taken, as far as fieldlink knows it.
type Place struct {
	// PLMN is the serving cell's network, "MCC-MNC" ("234-30").
	PLMN string
	// TAC (LTE, 5G) or LAC (2G, 3G), hexadecimal as ModemManager gives it.
	TAC, LAC string
	// Cell is the cell identity, hexadecimal; it sharpens a map's match
	// but is not part of the code (an area is wider than a cell).
	Cell string
	// GPS is set when Lat and Lon (already rounded, see Round) are known.
	GPS      bool
	Lat, Lon float64
	// SSID names a place only when nothing better is known.
	SSID string
}

// Round brings a position to a grid of about a kilometre (0.01 degree of
// latitude is 1.1 km) before anything stores it: no patient's address
// can be read from a record.
func Round(v float64) float64 { return math.Round(v*100) / 100 }

// Code is the place as the journal keeps it: "234-30 TAC 2C10", with
// " GPS 52.48,-1.89" when a position is known too; "GPS 52.48,-1.89";
// "Wi-Fi NHS-Community"; or "" when nothing is known.
func (p Place) Code() string {
	var parts []string
	switch {
	case p.PLMN != "" && p.TAC != "":
		parts = append(parts, p.PLMN+" TAC "+normHex(p.TAC))
	case p.PLMN != "" && p.LAC != "":
		parts = append(parts, p.PLMN+" LAC "+normHex(p.LAC))
	}
	if p.GPS {
		parts = append(parts, fmt.Sprintf("GPS %.2f,%.2f", Round(p.Lat), Round(p.Lon)))
	}
	if len(parts) == 0 && p.SSID != "" {
		return "Wi-Fi " + p.SSID
	}
	return strings.Join(parts, " ")
}

// Code is the place's code as this map wants it kept: the cell itself is
// kept only where the map names cells one by one in that area (a
// hospital's own cell in a town's tracking area), so that areas stay
// areas everywhere else. A nil map keeps plain codes.
func (m *Map) Code(p Place) string {
	code := p.Code()
	if m == nil || p.Cell == "" || p.PLMN == "" || code == "" || strings.HasPrefix(code, "Wi-Fi ") {
		return code
	}
	kind, area := "TAC", p.TAC
	if area == "" {
		kind, area = "LAC", p.LAC
	}
	for _, a := range m.Areas {
		for _, c := range a.Cells {
			if c.CellID != "" && c.PLMN == p.PLMN && c.Kind == kind && c.Code == normHex(area) {
				head := p.PLMN + " " + kind + " " + normHex(area)
				return head + " cell " + normHex(p.Cell) + strings.TrimPrefix(code, head)
			}
		}
	}
	return code
}

// ParseCode reads a code back into a place.
func ParseCode(code string) Place {
	var p Place
	if ssid, ok := strings.CutPrefix(code, "Wi-Fi "); ok {
		p.SSID = ssid
		return p
	}
	f := strings.Fields(code)
	for i := 0; i < len(f); i++ {
		switch {
		case (f[i] == "TAC" || f[i] == "LAC") && i+1 < len(f):
			if f[i] == "TAC" {
				p.TAC = f[i+1]
			} else {
				p.LAC = f[i+1]
			}
			i++
		case f[i] == "cell" && i+1 < len(f):
			p.Cell = f[i+1]
			i++
		case f[i] == "GPS" && i+1 < len(f):
			lat, lon, ok := strings.Cut(f[i+1], ",")
			la, e1 := strconv.ParseFloat(lat, 64)
			lo, e2 := strconv.ParseFloat(lon, 64)
			if ok && e1 == nil && e2 == nil {
				p.GPS, p.Lat, p.Lon = true, la, lo
			}
			i++
		case strings.Contains(f[i], "-") && p.PLMN == "":
			p.PLMN = f[i]
		}
	}
	return p
}

// normHex writes a hexadecimal code without leading zeros, upper case, so
// that "02c10" and "2C10" are one area.
func normHex(s string) string {
	s = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

// Map is IT's area map.
type Map struct {
	Path  string
	Areas []Area
	// byCell finds the areas of a network's tracking or location area,
	// in the map's order, made on first use: a fleet report names
	// thousands of areas against a map of thousands.
	once   sync.Once
	byCell map[string][]cellRef
}

// cellRef is an area (its index in Areas) a cell entry places, and the
// entry's cell when it names one.
type cellRef struct {
	area   int
	cellID string
}

func cellKey(plmn, kind, code string) string { return plmn + " " + kind + " " + code }

// cells is the map's cell index.
func (m *Map) cells() map[string][]cellRef {
	m.once.Do(func() {
		m.byCell = map[string][]cellRef{}
		for i, a := range m.Areas {
			for _, c := range a.Cells {
				k := cellKey(c.PLMN, c.Kind, c.Code)
				m.byCell[k] = append(m.byCell[k], cellRef{i, c.CellID})
			}
		}
	})
	return m.byCell
}

// Area is one named place and what places it: cells, Wi-Fi networks and
// boxes of latitude and longitude.
type Area struct {
	Name  string
	Cells []Cell
	SSIDs []string
	Boxes []Box
}

// Cell matches a network's tracking (or location) area, and optionally
// one cell in it.
type Cell struct {
	PLMN, Kind, Code, CellID string
}

// Box is south, west, north, east in degrees.
type Box struct{ South, West, North, East float64 }

func (b Box) has(lat, lon float64) bool {
	return lat >= b.South && lat <= b.North && lon >= b.West && lon <= b.East
}

// Name names a place from its code; "" when the map does not know it. A
// cell match (the cell itself before its area) comes before a Wi-Fi
// network, and both before a box: a box is the coarsest.
func (m *Map) Name(code string) string {
	if m == nil || code == "" {
		return ""
	}
	p := ParseCode(code)
	best, bestRank, bestArea := "", 0, len(m.Areas)
	for kind, area := range map[string]string{"TAC": p.TAC, "LAC": p.LAC} {
		if area == "" || p.PLMN == "" {
			continue
		}
		for _, ref := range m.cells()[cellKey(p.PLMN, kind, normHex(area))] {
			rank := 3
			if ref.cellID != "" {
				if p.Cell == "" || normHex(p.Cell) != ref.cellID {
					continue
				}
				rank = 4
			}
			// The first area of the best rank, as the map is read.
			if rank > bestRank || rank == bestRank && ref.area < bestArea {
				best, bestRank, bestArea = m.Areas[ref.area].Name, rank, ref.area
			}
		}
	}
	if bestRank >= 3 {
		return best
	}
	for _, a := range m.Areas {
		for _, s := range a.SSIDs {
			if p.SSID != "" && s == p.SSID && bestRank < 2 {
				best, bestRank = a.Name, 2
			}
		}
		for _, b := range a.Boxes {
			if p.GPS && b.has(p.Lat, p.Lon) && bestRank < 1 {
				best, bestRank = a.Name, 1
			}
		}
	}
	return best
}

// Center is where a named area is: the middle of its boxes, averaged;
// ok is false when the map gives it none.
func (m *Map) Center(name string) (lat, lon float64, ok bool) {
	if m == nil {
		return 0, 0, false
	}
	n := 0
	for _, a := range m.Areas {
		if a.Name != name {
			continue
		}
		for _, b := range a.Boxes {
			lat += (b.South + b.North) / 2
			lon += (b.West + b.East) / 2
			n++
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	return lat / float64(n), lon / float64(n), true
}

// file is the map as written.
type file struct {
	Area []struct {
		Name  string      `toml:"name"`
		Cells []string    `toml:"cells"`
		SSIDs []string    `toml:"ssids"`
		Boxes [][]float64 `toml:"boxes"`
	} `toml:"area"`
}

// Load reads an area map. Every mistake is reported with the file and
// line, all of them at once.
func Load(path string) (*Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("area map: %w", err)
	}
	return Parse(path, b)
}

// Parse reads an area map document; name is used in messages.
func Parse(name string, doc []byte) (*Map, error) {
	var f file
	dec := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var se *toml.StrictMissingError
		if errors.As(err, &se) {
			var lines []string
			for _, e := range se.Errors {
				row, col := e.Position()
				lines = append(lines, fmt.Sprintf("%s:%d:%d: unknown key %q (an area has name, cells, ssids and boxes)", name, row, col, strings.Join(e.Key(), ".")))
			}
			return nil, errors.New(strings.Join(lines, "\n"))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %s", name, row, col, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := &Map{Path: name}
	var errs []string
	bad := func(i int, needle, format string, a ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: area %d: %s", name, lineOf(doc, i, needle), i+1, fmt.Sprintf(format, a...)))
	}
	names := map[string]bool{}
	for i, fa := range f.Area {
		a := Area{Name: strings.TrimSpace(fa.Name), SSIDs: fa.SSIDs}
		switch {
		case a.Name == "":
			bad(i, "name", "has no name")
		case names[a.Name]:
			bad(i, fa.Name, "%q is named twice (give one area all its cells)", a.Name)
		case strings.IndexFunc(a.Name, unicode.IsControl) >= 0 || len(a.Name) > 64:
			// Names go on screens and into printed reports.
			bad(i, "name", "%q: a name is up to 64 printable characters", a.Name)
		}
		names[a.Name] = true
		for _, c := range fa.Cells {
			cell, err := parseCell(c)
			if err != nil {
				bad(i, c, "%q: %v", c, err)
				continue
			}
			a.Cells = append(a.Cells, cell)
		}
		for _, bx := range fa.Boxes {
			if len(bx) != 4 || bx[0] > bx[2] || bx[1] > bx[3] || bx[0] < -90 || bx[2] > 90 || bx[1] < -180 || bx[3] > 180 {
				bad(i, "boxes", "box %v: want [south, west, north, east] in degrees, south <= north and west <= east", bx)
				continue
			}
			a.Boxes = append(a.Boxes, Box{bx[0], bx[1], bx[2], bx[3]})
		}
		if len(a.Cells)+len(a.SSIDs)+len(a.Boxes) == 0 && a.Name != "" {
			bad(i, fa.Name, "%q has no cells, ssids or boxes: nothing can be placed in it", a.Name)
		}
		m.Areas = append(m.Areas, a)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return m, nil
}

// parseCell reads "234-30 TAC 2C10" or "234-30 TAC 2C10 cell 01A4F3C".
func parseCell(s string) (Cell, error) {
	f := strings.Fields(s)
	if len(f) != 3 && len(f) != 5 {
		return Cell{}, errors.New(`write a cell as "MCC-MNC TAC hex" or "MCC-MNC LAC hex", optionally followed by "cell hex"`)
	}
	mcc, mnc, ok := strings.Cut(f[0], "-")
	if !ok || !digits(mcc, 3, 3) || !digits(mnc, 2, 3) {
		return Cell{}, fmt.Errorf("%q is not MCC-MNC (such as 234-30)", f[0])
	}
	if f[1] != "TAC" && f[1] != "LAC" {
		return Cell{}, fmt.Errorf("%q: want TAC or LAC", f[1])
	}
	if !isHex(f[2]) {
		return Cell{}, fmt.Errorf("%q is not hexadecimal", f[2])
	}
	c := Cell{PLMN: f[0], Kind: f[1], Code: normHex(f[2])}
	if len(f) == 5 {
		if f[3] != "cell" || !isHex(f[4]) {
			return Cell{}, fmt.Errorf("after the area, want \"cell\" and a hexadecimal cell id")
		}
		c.CellID = normHex(f[4])
	}
	return c, nil
}

func digits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// lineOf finds the line of the i-th [[area]] block that holds needle
// (the block's header when none does).
func lineOf(doc []byte, i int, needle string) int {
	lines := strings.Split(string(doc), "\n")
	block, start := -1, 0
	for n, l := range lines {
		if strings.TrimSpace(l) == "[[area]]" {
			block++
			if block == i {
				start = n
			} else if block > i {
				break
			}
			continue
		}
		if block == i && needle != "" && strings.Contains(l, needle) {
			return n + 1
		}
	}
	return start + 1
}
