package storage

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/rackpulse/rackpulse/bmc"
)

// Defaults applied by Config.withDefaults to zero fields.
const (
	DefaultOrg              = "rackpulse"
	DefaultBucket           = "rackpulse"
	DefaultSpoolDir         = "var/spool/influxdb"
	DefaultSpoolMaxBytes    = 1 << 30 // 1 GiB
	DefaultSegmentMaxBytes  = 8 << 20 // 8 MiB
	DefaultBatchSize        = 5000
	DefaultFlushInterval    = time.Second
	DefaultQueueSize        = 200_000
	DefaultWriteTimeout     = 10 * time.Second
	DefaultRetryInterval    = time.Second
	DefaultMaxRetryInterval = time.Minute
)

// Config says where points go and how they are batched and spooled. A zero
// URL means storage is disabled: NewWriter and NewReader refuse it and the
// caller says so once.
type Config struct {
	// URL of the InfluxDB server (http://host:8086). Empty: disabled.
	URL string
	// Token authenticates to InfluxDB 2.x, or "user:password" for 1.8 with
	// auth enabled. Never logged.
	Token bmc.Secret
	// Org is ignored by InfluxDB 1.8.
	Org string
	// Bucket is the bucket (2.x) or "database/retention-policy" (1.8;
	// "database" alone uses the default retention policy).
	Bucket string

	// SpoolDir holds the on-disk spool of batches InfluxDB has not taken.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; beyond it the oldest segments are dropped.
	SpoolMaxBytes int64
	// SegmentMaxBytes is the size at which a new spool segment is started.
	SegmentMaxBytes int64

	// BatchSize is the most points in one write request.
	BatchSize int
	// FlushInterval is the longest a point waits in the queue before a
	// partial batch is written.
	FlushInterval time.Duration
	// QueueSize bounds the in-memory queue (points); Write drops and counts
	// points beyond it rather than block.
	QueueSize int
	// WriteTimeout bounds one write request.
	WriteTimeout time.Duration
	// RetryInterval is the first backoff after a failed write; it doubles
	// (with jitter) up to MaxRetryInterval. A Retry-After header wins.
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
	// UseGzip compresses write bodies; nil means true.
	UseGzip *bool
}

// Enabled reports whether a URL is set.
func (c Config) Enabled() bool { return c.URL != "" }

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Org == "" {
		c.Org = DefaultOrg
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.SpoolDir == "" {
		c.SpoolDir = DefaultSpoolDir
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if c.SegmentMaxBytes == 0 {
		c.SegmentMaxBytes = min(DefaultSegmentMaxBytes, max(c.SpoolMaxBytes/8, 4096))
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = max(DefaultQueueSize, 4*c.BatchSize)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = max(DefaultMaxRetryInterval, c.RetryInterval)
	}
	return c
}

func (c Config) gzip() bool { return c.UseGzip == nil || *c.UseGzip }

// ErrDisabled is returned for a Config without a URL.
var ErrDisabled = errors.New("storage disabled: no InfluxDB URL")

// Validate checks the config after defaults, without network I/O.
func (c Config) Validate() error {
	if !c.Enabled() {
		return ErrDisabled
	}
	c = c.withDefaults()
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("influx url %q: %w", c.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("influx url %q: want http(s)://host:port", c.URL)
	}
	var errs []error
	if c.BatchSize < 0 || c.QueueSize < c.BatchSize {
		errs = append(errs, fmt.Errorf("batch size %d must be positive and at most the queue size %d", c.BatchSize, c.QueueSize))
	}
	if c.SpoolMaxBytes < 0 || c.SegmentMaxBytes <= 0 || c.SegmentMaxBytes > c.SpoolMaxBytes {
		errs = append(errs, fmt.Errorf("spool segment size %d must be positive and at most the spool bound %d", c.SegmentMaxBytes, c.SpoolMaxBytes))
	}
	if c.FlushInterval < 0 || c.WriteTimeout < 0 || c.RetryInterval < 0 || c.MaxRetryInterval < c.RetryInterval {
		errs = append(errs, errors.New("durations must be positive and the max retry interval at least the retry interval"))
	}
	return errors.Join(errs...)
}
