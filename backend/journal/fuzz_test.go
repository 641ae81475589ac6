package journal

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzImport feeds arbitrary exports to Import: it must never panic, and
// a file it refuses must leave the journal as it was.
func FuzzImport(f *testing.F) {
	f.Add([]byte(`{"record":"device","device_id":"d1","hostname":"tb","created_ms":1}
{"record":"session","device_id":"d1","session_uuid":"s1","link":"wwan0","kind":"cellular","interface":"wwan0","profile":"","network":"EE","mcc":"234","mnc":"30","tech":"LTE","roaming":0,"area":"TAC 1","start_ms":1000,"end_ms":null,"end_reason":"","connect_ms":null,"green_ms":0,"amber_ms":0,"red_ms":0,"in_use_ms":0,"workable_ms":0,"samples":0,"probes_ok":0,"probes":0,"med_strength":null,"med_rsrp":-95,"med_sinr":null,"med_rscp":null,"med_rtt":null}
{"record":"sample","device_id":"d1","session_uuid":"s1","t_ms":2000,"level":3,"in_use":1,"strength":null,"rsrp":-95,"rsrq":null,"sinr":12.5,"rscp":null,"rtt":40,"probe":1,"tech":"LTE","area":""}
{"record":"event","device_id":"d1","seq":7,"t_ms":2000,"kind":"failover","link":"wwan0","level":2,"text":"now on cellular"}
{"record":"day_net","device_id":"d1","day":"2026-11-23","kind":"cellular","network":"EE","mcc":"234","mnc":"30","sessions":1,"connected_ms":1,"green_ms":1,"amber_ms":0,"red_ms":0,"in_use_ms":1,"workable_ms":1,"h_connect":"","h_signal":"-95:1","h_sinr":""}
`))
	f.Add([]byte(`{"record":"visit","device_id":"d1","visit_uuid":"v","start_ms":1,"end_ms":2,"total_ms":1,"workable_ms":1}`))
	f.Add([]byte(`{"record":"visit_net","device_id":"d1","visit_uuid":"v","kind":"work","network":"","area":"234-30 TAC 2C10","mcc":"","mnc":"","area_name":"Northfield","connected_ms":600000,"usable_ms":480000}
{"record":"day_visit","device_id":"d1","day":"2026-11-23","kind":"cellular","network":"EE","area":"234-30 TAC 2C10","mcc":"234","mnc":"30","area_name":"Northfield","visits":2,"h_share":"100:1,70:1"}
{"record":"day_area","device_id":"d1","day":"2026-11-23","kind":"cellular","network":"EE","area":"234-30 TAC 2C10","connected_ms":-5,"green_ms":0,"amber_ms":0,"red_ms":0,"workable_ms":0,"h_signal":""}
{"record":"from_the_future","x":1}
`))
	f.Add([]byte("{\"record\":\"day_device\",\"device_id\":\"x\",\"day\":\"not a day\",\"failovers\":1e400}\n\xff"))
	dir := f.TempDir()
	j, err := Open(filepath.Join(dir, "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { j.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		_, before, _ := j.Check(ctx)
		_, _, err := j.Import(ctx, bytes.NewReader(data), "fuzz.ndjson", ImportOptions{})
		if err == nil {
			// What was accepted is possible: no negative time, no usable
			// time beyond the connected, no visits without a histogram a
			// report can read.
			var bad int
			j.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM day_net WHERE connected_ms < 0 OR green_ms < 0 OR usable_ms > connected_ms)
				+ (SELECT COUNT(*) FROM day_area WHERE connected_ms < 0 OR usable_ms > connected_ms)
				+ (SELECT COUNT(*) FROM day_visit WHERE visits < 0)
				+ (SELECT COUNT(*) FROM visit WHERE end_ms < start_ms OR total_ms < 0)`).Scan(&bad)
			if bad > 0 {
				t.Fatalf("the import accepted %d impossible rows", bad)
			}
			var hs []string
			rows, _ := j.DB().Query(`SELECT h_share FROM day_visit`)
			for rows.Next() {
				var h string
				rows.Scan(&h)
				hs = append(hs, h)
			}
			rows.Close()
			for _, h := range hs {
				if _, err := ParseHistStrict(h); err != nil {
					t.Fatalf("accepted an unreadable histogram %q: %v", h, err)
				}
			}
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.ndjson:") {
				t.Fatalf("error does not name the file and line: %v", err)
			}
			_, after, _ := j.Check(ctx)
			for k, n := range before {
				if after[k] != n {
					t.Fatalf("a refused import changed %s: %d -> %d", k, n, after[k])
				}
			}
		}
	})
}
