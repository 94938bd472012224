package wstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestCheckDelivery(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name              string
		sent, failed, got []int
		want              string // in the error; "" for nil
	}{
		{"all delivered", []int{0, 1, 3}, []int{2}, []int{0, 1, 3}, ""},
		{"twice", []int{0, 1}, nil, []int{0, 1, 1}, "message 1 arrived twice"},
		{"out of order", []int{0, 1}, nil, []int{1, 0}, "message 0 arrived after 1"},
		{"lost", []int{0, 1}, nil, []int{0}, "Send(1) returned nil but the message never arrived"},
		{"failed arrived", []int{0}, []int{1}, []int{0, 1}, "Send(1) returned an error but the message arrived"},
	} {
		err := CheckDelivery(tt.sent, tt.failed, tt.got)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: CheckDelivery = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// A client's messages reach Received in order, across a Restart on the
// same address, which closes the client's connection with 1012.
func TestRecordingServerRestarts(t *testing.T) {
	t.Parallel()
	s := StartRecording(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	send := func(msgs ...string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws://"+s.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	c := send("1", "2")
	done := make(chan websocket.StatusCode)
	go func() {
		_, _, err := c.Read(ctx) // until the server's close, answered by the library
		done <- websocket.CloseStatus(err)
	}()
	addr := s.Addr()
	s.Restart()
	if code := <-done; code != websocket.StatusServiceRestart {
		t.Errorf("the client's connection ended with %v, want 1012", code)
	}
	if s.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	send("3").Close(websocket.StatusNormalClosure, "")
	s.Stop()
	if got := fmt.Sprint(s.Received()); got != "[1 2 3]" {
		t.Errorf("Received = %s, want [1 2 3]", got)
	}
}
