package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/safehub/safehub/internal/gateway"
)

// Defaults used when Open is given zero.
const (
	DefaultMaxSize  = 100 << 20 // bytes per file
	DefaultMaxFiles = 10        // files kept, the current one included
	DefaultQueue    = 8192      // events waiting for the writer
	minMaxSize      = 4 << 10
	syncInterval    = time.Second
)

// Log is a gateway.Observer that writes the audit log. It is safe for
// concurrent use. Observe never blocks: events go into a bounded queue that
// one writer goroutine drains; when the queue is full (the disk stalls) the
// event is dropped and counted, and the next line written says how many
// were lost.
//
// Durability: each line is written to the file (one write(2), so lines
// never interleave) as soon as the writer has it, so a crash of safehub
// loses only what was still queued; the file is fsynced at most once a second while lines keep
// coming, before each rotation and on Close, so an OS crash or power loss
// may lose about the last second.
type Log struct {
	mu     sync.RWMutex // guards closed against a send on the closed queue
	closed bool
	queue  chan Record
	done   chan struct{}
	out    *rotator
	log    *slog.Logger

	written   atomic.Int64
	dropped   atomic.Int64
	writeErrs atomic.Int64
	closeErr  error
}

// Option adjusts a Log.
type Option func(*Log)

// WithLogger sets where write errors are reported (default: discarded;
// they are counted in Stats either way).
func WithLogger(l *slog.Logger) Option { return func(lg *Log) { lg.log = l } }

// WithQueue sets how many events may wait for the writer.
func WithQueue(n int) Option {
	return func(lg *Log) {
		if n > 0 {
			lg.queue = make(chan Record, n)
		}
	}
}

// Open starts an audit log at path that rotates when a file would pass
// maxSize bytes and keeps maxFiles files in all (path, path.1, ...). Zero
// means the default for either. The folder must exist.
func Open(path string, maxSize int64, maxFiles int, opts ...Option) (*Log, error) {
	if path == "" {
		return nil, errors.New("audit log: no path given")
	}
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	if maxFiles == 0 {
		maxFiles = DefaultMaxFiles
	}
	if maxSize < minMaxSize {
		return nil, fmt.Errorf("audit log: max size %d is too small (at least %d bytes)", maxSize, minMaxSize)
	}
	if maxFiles < 2 {
		return nil, fmt.Errorf("audit log: max files %d is too few (at least 2, so a rotation keeps some history)", maxFiles)
	}
	out, err := openRotator(path, maxSize, maxFiles)
	if err != nil {
		return nil, err
	}
	l := newLog(out, opts...)
	go l.run()
	return l, nil
}

// newLog builds a Log whose writer is not started yet (tests start it late
// to see the queue fill).
func newLog(out *rotator, opts ...Option) *Log {
	l := &Log{queue: make(chan Record, DefaultQueue), done: make(chan struct{}), out: out,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(l)
	}
	return l
}

var _ gateway.Observer = (*Log)(nil)

// Observe queues the event if it belongs in the log (see Wanted).
func (l *Log) Observe(ev gateway.Event) {
	if !Wanted(ev) {
		return
	}
	l.enqueue(FromEvent(ev))
}

func (l *Log) enqueue(rec Record) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.queue <- rec:
	default:
		l.dropped.Add(1)
	}
}

// Stats are the log's counters, for metrics.
type Stats struct {
	Written     int64 // lines written
	Dropped     int64 // events lost because the queue was full or the log closed
	WriteErrors int64 // lines the file system refused
}

// Stats returns the counters so far.
func (l *Log) Stats() Stats {
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), WriteErrors: l.writeErrs.Load()}
}

// Close stops taking events, writes every queued one, fsyncs and closes
// the file. It waits for the disk; call it once, at shutdown.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("audit log: already closed")
	}
	l.closed = true
	close(l.queue) // no sender can be inside enqueue now
	l.mu.Unlock()
	<-l.done
	return l.closeErr
}

// run is the writer goroutine: it takes what is queued, encodes it into one
// buffer per batch, writes, and fsyncs on a timer.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(syncInterval)
	defer tick.Stop()
	var (
		buf      []byte
		reported int64 // drops already written as a "dropped" line
	)
	for {
		select {
		case rec, ok := <-l.queue:
			if !ok {
				l.noteDrops(&reported)
				l.closeErr = l.out.close()
				return
			}
			buf = l.writeLine(buf[:0], rec)
			// Drain what else is waiting, without blocking, as one batch.
		batch:
			for range cap(l.queue) {
				select {
				case rec, ok := <-l.queue:
					if !ok {
						break batch
					}
					buf = l.writeLine(buf[:0], rec)
				default:
					break batch
				}
			}
			l.noteDrops(&reported)
		case <-tick.C:
			l.noteDrops(&reported)
			if err := l.out.sync(); err != nil {
				l.log.Warn("audit log fsync failed", "err", err)
			}
		}
	}
}

// writeLine encodes and writes one record. Writing line by line (rather
// than one write per batch) is what lets the rotator keep lines whole.
func (l *Log) writeLine(buf []byte, rec Record) []byte {
	b, err := json.Marshal(rec)
	if err != nil { // cannot happen for Record's field types
		l.writeErrs.Add(1)
		return buf
	}
	buf = append(append(buf, b...), '\n')
	if err := l.out.write(buf); err != nil {
		if l.writeErrs.Add(1) == 1 || l.writeErrs.Load()%1000 == 0 {
			l.log.Error("audit log write failed", "err", err, "failures", l.writeErrs.Load())
		}
		return buf
	}
	l.written.Add(1)
	return buf
}

// noteDrops writes one "dropped" line for drops not yet reported, so that a
// reader of the log sees where it has a gap.
func (l *Log) noteDrops(reported *int64) {
	d := l.dropped.Load()
	if d == *reported {
		return
	}
	l.writeLine(nil, Record{Time: time.Now().UTC(), Decision: DecisionDropped, Dropped: d - *reported})
	*reported = d
}
