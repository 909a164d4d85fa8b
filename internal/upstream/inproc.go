package upstream

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// HandlerTransport serves requests with an http.Handler in the same
// process, streaming its output through a pipe. The local mirror uses it:
// a mirror listening on a port of its own would let local users fetch
// pickles around the policy. It honours the request context like a network
// transport: a stuck handler cannot hold a caller past its deadline.
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "inproc"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				err := fmt.Errorf("upstream handler panic: %v", p)
				w.fail(err) // no status sent yet: RoundTrip returns the error
				pw.CloseWithError(err)
				return
			}
			w.WriteHeader(http.StatusOK) // no-op if already sent
			pw.Close()
		}()
		t.h.ServeHTTP(w, sreq)
	}()
	// Cancelling the request cuts the body too, as closing a connection would.
	go func() {
		select {
		case <-ctx.Done():
			pw.CloseWithError(ctx.Err())
		case <-done:
		}
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if w.err != nil {
		return nil, w.err
	}
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       req,
	}
	if cl, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
		resp.ContentLength = cl
		resp.Body = &lengthChecked{ReadCloser: pr, left: cl}
	}
	if req.Method == http.MethodHead {
		pr.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// pipeResponse is the handler's side of the pipe.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	status int
	err    error // the handler failed before sending a status
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	w.once.Do(func() {
		w.status = status
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) fail(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// lengthChecked turns a body that ends before its Content-Length into
// io.ErrUnexpectedEOF, as net/http does for a network response.
type lengthChecked struct {
	io.ReadCloser
	left int64
}

func (l *lengthChecked) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	if err == io.EOF && l.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
