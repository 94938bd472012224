package wsclient

import (
	"context"
	"errors"
	"sync"
	"time"
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

	mu      sync.Mutex // protects the fields below; taken before Client.mu
	clients map[string]*Client
	closed  bool
}

// RegistryRetryDelay is how long Registry.Get keeps returning a client that
// gave up before it replaces it with a new one.
const RegistryRetryDelay = time.Second

// NewRegistry returns an empty registry; newOptions gives the options of the
// client for an endpoint, and runs once per client: once per endpoint, and
// again when Get replaces a client that gave up.
func NewRegistry(newOptions func(url string) Options) *Registry {
	if newOptions == nil {
		panic("wsclient: NewRegistry called with a nil options func")
	}
	return &Registry{newOptions: newOptions, clients: make(map[string]*Client)}
}

// Get returns the client for url, creating it and starting its connection in
// the background on first use. Racing callers get the same client. Send on
// it waits in the queue while the connection comes up.
//
// A client that gave up (its reconnect policy said no, say to a 401 during a
// token rotation, or MaxAttempts attempts failed in a row) is replaced once
// it has been given up for RegistryRetryDelay: Get then closes it (which
// waits for its OnStateChange, if any) and returns a new client, with
// options from newOptions again, which makes a new connect attempt. Until
// then Get returns the client that gave up, whose Send and Connect return
// the error it gave up with at once, so that request handlers calling Get
// against an endpoint that keeps refusing make one handshake per
// RegistryRetryDelay, not one per request. Holders of a replaced client
// keep getting its error.
func (r *Registry) Get(url string) (*Client, error) {
	c, old, err := r.get(url)
	if old != nil {
		old.Close(context.Background()) // it gave up: nothing queued, no connection
	}
	return c, err
}

// get returns the client for url, and the client that gave up it replaced,
// for the caller to close outside r.mu.
func (r *Registry) get(url string) (c, old *Client, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, ErrClosed
	}
	if c, ok := r.clients[url]; ok {
		if gaveUp, ago := c.gaveUp(); !gaveUp || ago < RegistryRetryDelay {
			return c, nil, nil
		}
		old = c
		delete(r.clients, url)
	}
	opts := r.newOptions(url)
	if opts.URL == "" && opts.Prepare == nil {
		opts.URL = url
	}
	c, err = New(opts) // no I/O: fine under the lock
	if err != nil {
		return nil, old, err
	}
	r.clients[url] = c
	c.ensureStarted()
	return c, old, nil
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
