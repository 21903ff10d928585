package manifest

import (
	"path/filepath"
	"testing"
	"time"
)

const testKeyHash = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestQuotaConfig: missing quotas are unlimited, a key's quotas replace
// [quotas] field by field, and the exact values are kept.
func TestQuotaConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "moat.toml")
	for _, tc := range []struct {
		name     string
		toml     string
		want     QuotaConfig
		wantKey  *QuotaConfig
		wantsAny bool
	}{
		{"no [quotas]: unlimited", "", QuotaConfig{Window: DefaultQuotaWindow}, nil, false},
		{"empty [quotas]: unlimited", "[quotas]\n", QuotaConfig{Window: DefaultQuotaWindow}, nil, false},
		{"every quota", "[quotas]\nwindow = \"10m\"\nwall_time = \"1m\"\noutbound_bytes = \"1MiB\"\noutput_bytes = \"2KiB\"\n",
			QuotaConfig{Window: 10 * time.Minute, WallTime: time.Minute, OutboundBytes: 1 << 20, OutputBytes: 2 << 10}, nil, true},
		{"a key's own quota replaces one field", "[quotas]\nwall_time = \"1m\"\noutput_bytes = \"2KiB\"\n[[auth.keys]]\nid = \"k\"\nhash = \"" + testKeyHash + "\"\nquotas = { output_bytes = \"1MiB\" }\n",
			QuotaConfig{Window: time.Hour, WallTime: time.Minute, OutputBytes: 2 << 10},
			&QuotaConfig{Window: time.Hour, WallTime: time.Minute, OutputBytes: 1 << 20}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(file, []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Quotas != tc.want || c.Quotas.Any() != tc.wantsAny {
				t.Errorf("quotas %+v; want %+v", c.Quotas, tc.want)
			}
			if tc.wantKey != nil && (len(c.Auth.Keys) != 1 || c.Auth.Keys[0].Quotas == nil || *c.Auth.Keys[0].Quotas != *tc.wantKey) {
				t.Errorf("key quotas %+v; want %+v", c.Auth.Keys, *tc.wantKey)
			}
		})
	}
}

// TestObserveConfigErrors: [quotas] and [telemetry] values moat refuses,
// with the field, line and message.
func TestObserveConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "moat.toml")
	for _, tc := range []struct {
		name, toml string
		line       int
		field, msg string
	}{
		{"zero wall_time", "[quotas]\nwall_time = \"0s\"\n", 2, "quotas.wall_time", "0 would refuse every call: leave wall_time out for no quota"},
		{"zero outbound_bytes", "[quotas]\noutbound_bytes = 0\n", 2, "quotas.outbound_bytes", "0 would refuse every call"},
		{"zero output_bytes", "[quotas]\noutput_bytes = \"0B\"\n", 2, "quotas.output_bytes", "0 would refuse every call"},
		{"window too long", "[quotas]\nwindow = \"800h\"\n", 2, "quotas.window", "out of bounds"},
		{"a key's zero quota", "[[auth.keys]]\nid = \"k\"\nhash = \"" + testKeyHash + "\"\nquotas = { output_bytes = 0 }\n", 4, "auth.keys[0].quotas.output_bytes", "0 would refuse every call"},
		{"unknown quota", "[quotas]\ncpu = \"1s\"\n", 2, "quotas.cpu", ""},
		{"endpoint not a URL", "[telemetry]\nendpoint = \"collector:4318\"\n", 2, "telemetry.endpoint", "must be an http(s) URL"},
		{"endpoint with credentials", "[telemetry]\nendpoint = \"http://u:p@collector:4318\"\n", 2, "telemetry.endpoint", "without credentials"},
		{"protocol unknown", "[telemetry]\nprotocol = \"http/json\"\n", 2, "telemetry.protocol", `must be "http/protobuf" or "grpc"`},
		{"sample_ratio above 1", "[telemetry]\nsample_ratio = 1.5\n", 2, "telemetry.sample_ratio", "out of bounds"},
		{"service_name with spaces", "[telemetry]\nservice_name = \"my moat\"\n", 2, "telemetry.service_name", "must be 1–128 characters"},
		{"queue_size zero", "[telemetry]\nqueue_size = 0\n", 2, "telemetry.queue_size", "out of bounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(file, []byte(tc.toml))
			wantError(t, err, "", tc.line, tc.field, nil, tc.msg)
		})
	}
}

// TestTelemetryConfig: the values [telemetry] keeps, and its defaults.
func TestTelemetryConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "moat.toml")
	c, err := ParseConfig(file, []byte("[telemetry]\nenabled = true\nendpoint = \"http://127.0.0.1:4318\"\nprotocol = \"grpc\"\nservice_name = \"moat-eu\"\nsample_ratio = 0.25\n"))
	if err != nil {
		t.Fatal(err)
	}
	tc := c.Telemetry
	if tc.Enabled == nil || !*tc.Enabled || tc.Endpoint != "http://127.0.0.1:4318" || tc.Protocol != "grpc" || tc.ServiceName != "moat-eu" ||
		tc.SampleRatio == nil || *tc.SampleRatio != 0.25 || tc.ExportTimeout != DefaultExportTimeout || tc.QueueSize != DefaultSpanQueue {
		t.Errorf("telemetry %+v", tc)
	}
	c2, err := ParseConfig(file, []byte("[telemetry]\nsample_ratio = 0.5\n"))
	if err != nil || c2.Digest == c.Digest {
		t.Errorf("digest does not see [telemetry]: %v", err)
	}
}
