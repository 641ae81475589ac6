package apn

import (
	"os"
	"strings"
	"testing"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

const sample = `<?xml version="1.0"?>
<serviceproviders format="2.0">
<country code="gb">
	<provider>
		<name>EE</name>
		<gsm>
			<network-id mcc="234" mnc="30"/>
			<network-id mcc="234" mnc="33"/>
			<apn value="everywhere">
				<usage type="internet"/>
				<name>EE Internet</name>
				<username>eesecure</username>
				<password>secure</password>
			</apn>
			<apn value="eezone">
				<usage type="mms"/>
			</apn>
		</gsm>
	</provider>
	<provider>
		<name>Vodafone (Contract)</name>
		<gsm>
			<network-id mcc="234" mnc="15"/>
			<apn value="internet">
				<name>Vodafone</name>
			</apn>
		</gsm>
	</provider>
	<provider><name>CDMA only</name><cdma><sid value="1"/></cdma></provider>
</country>
</serviceproviders>
`

func TestLookup(t *testing.T) {
	db, err := Parse("sample.xml", strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := db.Lookup("234", "30")
	if len(got) != 1 || got[0].Value != "everywhere" || got[0].Provider != "EE" || got[0].Username != "eesecure" {
		t.Fatalf("EE: %+v", got)
	}
	if got := db.Lookup("234", "015"); len(got) != 1 || got[0].Value != "internet" || got[0].Usage != "internet" {
		t.Fatalf("three-digit MNC: %+v", got)
	}
	if got := db.Lookup("999", "99"); len(got) != 0 {
		t.Fatalf("unknown network: %+v", got)
	}
	s := Settings("EE (fieldlink)", got0(db))
	if s["connection"]["type"].Value() != "gsm" || s["gsm"]["apn"].Value() != "everywhere" || s["connection"]["autoconnect"].Value() != false {
		t.Fatalf("settings %+v", s)
	}
}

func got0(db *DB) APN { return db.Lookup("234", "30")[0] }

func TestBadDatabases(t *testing.T) {
	cases := map[string]string{
		"<serviceproviders>\n<country code=\"gb\">\n<provider>\n</country>": "bad.xml:4: malformed provider database",
		"":                             "bad.xml:1: malformed provider database",
		"<serviceproviders/>":          "no providers found",
		"<html><body>hi</body></html>": "no providers found",
	}
	for doc, want := range cases {
		_, err := Parse("bad.xml", strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
	if _, err := Load("/nonexistent/serviceproviders.xml"); err == nil || !strings.Contains(err.Error(), "install Debian's mobile-broadband-provider-info") {
		t.Errorf("missing file: %v", err)
	}
}

// TestDebianDatabase reads the real file where the package is installed.
func TestDebianDatabase(t *testing.T) {
	if _, err := os.Stat(DefaultPath); err != nil {
		integration.Skip(t, "mobile-broadband-provider-info is not installed")
	}
	db, err := Load(DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	if db.Providers < 100 {
		t.Fatalf("only %d providers", db.Providers)
	}
	ee := db.Lookup("234", "30")
	if len(ee) == 0 || ee[0].Value != "everywhere" {
		t.Fatalf("EE UK: %+v", ee)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("<serviceproviders><country><provider><gsm><network-id/><apn/></gsm></provider></country></serviceproviders>")
	f.Fuzz(func(t *testing.T, doc string) {
		db, err := Parse("fuzz.xml", strings.NewReader(doc))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.xml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		db.Lookup("234", "30")
	})
}
