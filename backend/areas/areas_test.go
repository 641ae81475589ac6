package areas

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const sample = `# Northfield and Kings Heath, for the community teams
[[area]]
name = "Northfield"
cells = ["234-30 TAC 2C10", "234-15 LAC 0x1F2A"]
ssids = ["Northfield-Clinic"]

[[area]]
name = "Northfield Health Centre"
cells = ["234-30 TAC 2C10 cell 01A4F3C"]

[[area]]
name = "Kings Heath"
boxes = [[52.42, -1.91, 52.44, -1.88]]
`

func TestNames(t *testing.T) {
	m, err := Parse("areas.toml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{
		"234-30 TAC 2C10":                 "Northfield",
		"234-30 TAC 02c10":                "Northfield", // one area, however written
		"234-30 TAC 2C10 GPS 52.43,-1.90": "Northfield", // a cell before a box
		"234-15 LAC 1F2A":                 "Northfield",
		"234-10 TAC 2C10":                 "", // another network's area of the same number
		"GPS 52.43,-1.90":                 "Kings Heath",
		"GPS 52.50,-1.90":                 "",
		"Wi-Fi Northfield-Clinic":         "Northfield",
		"Wi-Fi NHS-Community":             "",
		"":                                "",
	} {
		if got := m.Name(code); got != want {
			t.Errorf("%q: %q, want %q", code, got, want)
		}
	}
	// A cell the map names itself comes before its area; the code keeps
	// the cell only in an area where the map names cells.
	p := Place{PLMN: "234-30", TAC: "2C10", Cell: "01A4F3C", GPS: true, Lat: 52.43, Lon: -1.9}
	if code := m.Code(p); code != "234-30 TAC 2C10 cell 1A4F3C GPS 52.43,-1.90" || m.Name(code) != "Northfield Health Centre" {
		t.Errorf("a named cell: %q is %q", code, m.Name(code))
	}
	p.Cell = "1A4F3D"
	if code := m.Code(p); code != "234-30 TAC 2C10 cell 1A4F3D GPS 52.43,-1.90" || m.Name(code) != "Northfield" {
		t.Errorf("another cell of that area: %q is %q", code, m.Name(code))
	}
	p = Place{PLMN: "234-15", LAC: "1F2A", Cell: "77"}
	if code := m.Code(p); code != "234-15 LAC 1F2A" {
		t.Errorf("cells kept where the map names none: %q", code)
	}
	var none *Map
	if code := none.Code(Place{PLMN: "234-30", TAC: "2C10", Cell: "01A4F3C"}); code != "234-30 TAC 2C10" {
		t.Errorf("no map: %q", code)
	}
}

// TestCodesRoundTheirPosition: a position is stored to about a
// kilometre, never more precisely.
func TestCodesRoundTheirPosition(t *testing.T) {
	p := Place{PLMN: "234-30", TAC: "002c10", GPS: true, Lat: 52.438712, Lon: -1.897251}
	if got := p.Code(); got != "234-30 TAC 2C10 GPS 52.44,-1.90" {
		t.Fatalf("code %q", got)
	}
	if got := ParseCode(p.Code()); got.PLMN != "234-30" || got.TAC != "2C10" || !got.GPS || got.Lat != 52.44 || got.Lon != -1.9 {
		t.Fatalf("parse %+v", got)
	}
	if got := (Place{SSID: "NHS-Community"}).Code(); got != "Wi-Fi NHS-Community" {
		t.Fatalf("ssid only: %q", got)
	}
	if got := (Place{SSID: "NHS-Community", GPS: true, Lat: 1, Lon: 2}).Code(); got != "GPS 1.00,2.00" {
		t.Fatalf("a position before a network name: %q", got)
	}
}

// TestMistakesNameFileAndLine: every mistake, with its file and line.
func TestMistakesNameFileAndLine(t *testing.T) {
	doc := `[[area]]
name = "Northfield"
cells = ["234-30 XAC 2C10"]

[[area]]
name = "Northfield"
boxes = [[53, -1, 52, 0]]

[[area]]
name = "Empty"
`
	_, err := Parse("areas.toml", []byte(doc))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`areas.toml:3: area 1: "234-30 XAC 2C10": "XAC": want TAC or LAC`,
		`areas.toml:6: area 2: "Northfield" is named twice`, "areas.toml:7: area 2: box [53 -1 52 0]",
		`areas.toml:10: area 3: "Empty" has no cells, ssids or boxes`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q:\n%v", want, err)
		}
	}
	if _, err := Parse("areas.toml", []byte("[[area]]\nnam = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "areas.toml:2:1: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
}

// FuzzParse: an area map IT wrote by hand never panics the reader, and a
// mistake is named with the file and line.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("[[area]]\nname = \"x\"\nboxes = [[1, 2, 3]]\ncells = [\"234-30 TAC zz\"]\n"))
	f.Add([]byte("[[area]]\nname = \"\\u0007bell\"\n[[area]]\nname = 3\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := Parse("areas.toml", doc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "areas.toml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for _, a := range m.Areas {
			if a.Name == "" || strings.ContainsFunc(a.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("accepted the name %q", a.Name)
			}
		}
		m.Name("234-30 TAC 2C10 cell 1A GPS 52.44,-1.90")
	})
}

// BenchmarkNameInATrustsMap names every area of a 2,000-area map (a fleet
// report names each of its areas): the time per name, beside the
// yardstick of parsing the code alone. A scan of the map per name took
// 1.9 s of a 1,000-device report; the cells are now looked up.
func BenchmarkNameInATrustsMap(b *testing.B) {
	var doc strings.Builder
	codes := make([]string, 2000)
	for n := range codes {
		fmt.Fprintf(&doc, "[[area]]\nname = \"Area %d\"\ncells = [\"234-30 TAC %x\"]\n\n", n, n)
		codes[n] = fmt.Sprintf("234-30 TAC %X", n)
	}
	m, err := Parse("trust.toml", []byte(doc.String()))
	if err != nil {
		b.Fatal(err)
	}
	if got := m.Name(codes[1999]); got != "Area 1999" {
		b.Fatalf("the last area is named %q", got)
	}
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		ParseCode(codes[i%len(codes)])
	}
	yard := time.Since(t0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Name(codes[i%len(codes)])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/name")
	b.ReportMetric(float64(b.Elapsed())/float64(yard), "name/parse")
}
