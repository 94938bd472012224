package wsclient

import (
	"context"
	"errors"
	"sync"
)

// Registry holds one shared client per endpoint for a process, so that
// request handlers send through a long-lived connection instead of dialing
// one per request:
//
//	var clients = wsclient.NewRegistry(func(url string) wsclient.Options {
//		return wsclient.Options{URL: url, QueueLimit: 100}
//	})
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		c, err := clients.Get("wss://events.example.com/v1")
//		...
//		err = c.Send(r.Context(), wsclient.MessageText, payload)
//	}
//
// Its methods are safe for concurrent use.
type Registry struct {
	newOptions func(url string) Options

	mu      sync.Mutex // protects the fields below
	clients map[string]*Client
	closed  bool
}

// NewRegistry returns an empty registry; newOptions gives the options of the
// client for an endpoint, and runs once per endpoint.
func NewRegistry(newOptions func(url string) Options) *Registry {
	if newOptions == nil {
		panic("wsclient: NewRegistry called with a nil options func")
	}
	return &Registry{newOptions: newOptions, clients: make(map[string]*Client)}
}

// Get returns the client for url, creating it and starting its connection in
// the background on first use. Racing callers get the same client. Send on
// it waits in the queue while the connection comes up.
func (r *Registry) Get(url string) (*Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if c, ok := r.clients[url]; ok {
		return c, nil
	}
	opts := r.newOptions(url)
	if opts.URL == "" && opts.Prepare == nil {
		opts.URL = url
	}
	c, err := New(opts) // no I/O: fine under the lock
	if err != nil {
		return nil, err
	}
	r.clients[url] = c
	c.ensureStarted()
	return c, nil
}

// Close closes every client, each as Client.Close does, and returns their
// errors joined. Get fails with ErrClosed afterwards.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	clients := make([]*Client, 0, len(r.clients))
	for _, c := range r.clients {
		clients = append(clients, c)
	}
	r.mu.Unlock()
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { errs[i] = c.Close(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
