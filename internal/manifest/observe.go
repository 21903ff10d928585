package manifest

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// TelemetryConfig is [telemetry]: OpenTelemetry traces (internal/telemetry,
// docs/telemetry.md). The zero value leaves tracing to the standard
// OTEL_* environment variables, and off when none is set.
type TelemetryConfig struct {
	// Enabled is [telemetry] enabled: nil (the default) means on when an
	// endpoint is configured here or by OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
	// or OTEL_TRACES_EXPORTER=otlp; false forces tracing off whatever the
	// environment says; true turns it on (the exporter's own default
	// endpoint, localhost:4318, when none is set).
	Enabled *bool
	// Endpoint is [telemetry] endpoint: the OTLP collector's URL, e.g.
	// "http://127.0.0.1:4318" (http/protobuf) or "http://127.0.0.1:4317"
	// (grpc); "" leaves it to the environment.
	Endpoint string
	// Protocol is [telemetry] protocol: "http/protobuf" or "grpc"; ""
	// means OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, else "http/protobuf".
	Protocol string
	// ServiceName is [telemetry] service_name; "" means OTEL_SERVICE_NAME,
	// else "moat".
	ServiceName string
	// SampleRatio is [telemetry] sample_ratio: the share of new traces
	// kept (a parent's decision is always followed); nil means
	// OTEL_TRACES_SAMPLER(_ARG), else every trace.
	SampleRatio *float64
	// ExportTimeout is [telemetry] export_timeout: the bound on one export
	// to the collector; default DefaultExportTimeout. Calls never wait on
	// an export: spans that cannot be queued or sent are dropped and
	// counted (moat_trace_spans_dropped_total).
	ExportTimeout time.Duration
	// QueueSize is [telemetry] queue_size: finished spans waiting for
	// export; default DefaultSpanQueue. A full queue drops new spans.
	QueueSize int
}

// Defaults and bounds of [telemetry].
const (
	DefaultExportTimeout = 5 * time.Second
	DefaultSpanQueue     = 2048
	maxSpanQueue         = 1 << 20
	maxEndpointURL       = 512
)

// QuotaConfig is [quotas], or one key's quotas = {...}: what a principal
// may consume per window, besides how often it may call. A zero limit
// means no quota on that resource (the field was left out); writing 0 is
// a config error, because a quota of nothing would refuse every call.
type QuotaConfig struct {
	// Window is window: the fixed window the usage is counted over; it
	// starts with the principal's first counted call; default
	// DefaultQuotaWindow.
	Window time.Duration
	// WallTime is wall_time: the total wall time of the principal's calls
	// per window; 0 = unlimited.
	WallTime time.Duration
	// OutboundBytes is outbound_bytes: the bytes the principal's calls
	// send and receive through tools' outbound HTTP (bodies, both ways)
	// per window; 0 = unlimited.
	OutboundBytes uint64
	// OutputBytes is output_bytes: the bytes of the tools' results (their
	// stdout) per window; 0 = unlimited.
	OutputBytes uint64
}

// Any reports whether q limits anything.
func (q QuotaConfig) Any() bool { return q.WallTime > 0 || q.OutboundBytes > 0 || q.OutputBytes > 0 }

// Bounds of quotas.
const (
	DefaultQuotaWindow = time.Hour
	minQuotaWindow     = time.Second
	maxQuotaWindow     = 31 * 24 * time.Hour
)

// telemetryTable is [telemetry].
type telemetryTable struct {
	Enabled       *bool     `toml:"enabled"`
	Endpoint      *string   `toml:"endpoint"`
	Protocol      *string   `toml:"protocol"`
	ServiceName   *string   `toml:"service_name"`
	SampleRatio   *float64  `toml:"sample_ratio"`
	ExportTimeout *Duration `toml:"export_timeout"`
	QueueSize     *int64    `toml:"queue_size"`
}

// quotasTable is [quotas] and a key's quotas.
type quotasTable struct {
	Window        *Duration `toml:"window"`
	WallTime      *Duration `toml:"wall_time"`
	OutboundBytes *Size     `toml:"outbound_bytes"`
	OutputBytes   *Size     `toml:"output_bytes"`
}

var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)

func (d *doc) telemetryConfig(c *Config, t *telemetryTable) error {
	tc := TelemetryConfig{Enabled: t.Enabled, SampleRatio: t.SampleRatio}
	if t.Endpoint != nil {
		u, err := url.Parse(*t.Endpoint)
		if len(*t.Endpoint) > maxEndpointURL || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return d.errorf("telemetry.endpoint", ErrInvalid, "must be an http(s) URL of at most %d bytes without credentials, e.g. \"http://127.0.0.1:4318\"", maxEndpointURL)
		}
		tc.Endpoint = *t.Endpoint
	}
	if t.Protocol != nil {
		switch *t.Protocol {
		case "http/protobuf", "grpc":
			tc.Protocol = *t.Protocol
		default:
			return d.errorf("telemetry.protocol", ErrInvalid, "%q: must be \"http/protobuf\" or \"grpc\"", *t.Protocol)
		}
	}
	if t.ServiceName != nil {
		if !serviceName.MatchString(*t.ServiceName) {
			return d.errorf("telemetry.service_name", ErrInvalid, "must be 1–128 characters of A-Z a-z 0-9 . _ / -")
		}
		tc.ServiceName = *t.ServiceName
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		return d.errorf("telemetry.sample_ratio", ErrInvalid, "%v is out of bounds: must be between 0 and 1", *r)
	}
	var err error
	if tc.ExportTimeout, err = d.duration("telemetry.export_timeout", t.ExportTimeout, DefaultExportTimeout, 10*time.Millisecond, time.Minute); err != nil {
		return err
	}
	n, err := d.integer("telemetry.queue_size", t.QueueSize, DefaultSpanQueue, 1, maxSpanQueue)
	if err != nil {
		return err
	}
	tc.QueueSize = int(n)
	c.Telemetry = tc
	return nil
}

// quotaConfig checks one quotas table; field is its path ("quotas" or
// "auth.keys[i].quotas"), base the values a missing field takes.
func (d *doc) quotaConfig(field string, t *quotasTable, base QuotaConfig) (QuotaConfig, error) {
	q := base
	if q.Window == 0 {
		q.Window = DefaultQuotaWindow
	}
	if t == nil {
		return q, nil
	}
	zero := func(f string) error {
		return d.errorf(joinPath(field, f), ErrInvalid, "0 would refuse every call: leave %s out for no quota", f)
	}
	var err error
	if q.Window, err = d.duration(joinPath(field, "window"), t.Window, q.Window, minQuotaWindow, maxQuotaWindow); err != nil {
		return q, err
	}
	if t.WallTime != nil {
		if *t.WallTime == 0 {
			return q, zero("wall_time")
		}
		if q.WallTime, err = d.duration(joinPath(field, "wall_time"), t.WallTime, 0, time.Millisecond, 100*maxQuotaWindow); err != nil {
			return q, err
		}
	}
	if t.OutboundBytes != nil {
		if *t.OutboundBytes == 0 {
			return q, zero("outbound_bytes")
		}
		q.OutboundBytes = uint64(*t.OutboundBytes)
	}
	if t.OutputBytes != nil {
		if *t.OutputBytes == 0 {
			return q, zero("output_bytes")
		}
		q.OutputBytes = uint64(*t.OutputBytes)
	}
	return q, nil
}

// String is q as the reload report and errors show it.
func (q QuotaConfig) String() string {
	return fmt.Sprintf("window=%s wall_time=%s outbound_bytes=%d output_bytes=%d", q.Window, q.WallTime, q.OutboundBytes, q.OutputBytes)
}
