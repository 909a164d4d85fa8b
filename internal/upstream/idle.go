package upstream

import (
	"context"
	"io"
	"sync"
	"time"
)

// idleReader cancels a transfer whose upstream stops sending for longer
// than timeout. http.Client.Timeout would cap the whole transfer instead,
// which a large file legitimately exceeds.
type idleReader struct {
	rc      io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelFunc
	once    sync.Once
}

func newIdleReader(rc io.ReadCloser, timeout time.Duration, cancel context.CancelFunc) *idleReader {
	return &idleReader{rc: rc, timer: time.AfterFunc(timeout, cancel), timeout: timeout, cancel: cancel}
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.timer.Reset(r.timeout)
	}
	return n, err
}

func (r *idleReader) Close() error {
	err := r.rc.Close()
	r.once.Do(func() {
		r.timer.Stop()
		r.cancel()
	})
	return err
}
