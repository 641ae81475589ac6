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
		_, err := j.Import(ctx, bytes.NewReader(data), "fuzz.ndjson")
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
