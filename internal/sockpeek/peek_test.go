package sockpeek

import (
	"net"
	"testing"
	"time"
)

func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// until peeks until want is seen (what the peer did takes a moment to
// arrive) or a second has passed.
func until(c net.Conn, want State) State {
	var st State
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st = Peek(c); st == want {
			break
		}
	}
	return st
}

func TestPeek(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		c, _ := pair(t)
		if st := Peek(c); st != Open {
			t.Fatalf("%v, want Open", st)
		}
	})
	t.Run("DataNotConsumed", func(t *testing.T) {
		c, s := pair(t)
		s.Write([]byte("hi"))
		if st := until(c, Data); st != Data {
			t.Fatalf("%v, want Data", st)
		}
		b := make([]byte, 2)
		if n, err := c.Read(b); n != 2 || string(b) != "hi" {
			t.Fatalf("read %q %v after the peek, want the bytes still there", b[:n], err)
		}
	})
	t.Run("PeerClosed", func(t *testing.T) {
		c, s := pair(t)
		s.Close()
		if st := until(c, Closed); st != Closed {
			t.Fatalf("%v, want Closed", st)
		}
	})
	t.Run("ClosedHere", func(t *testing.T) {
		c, _ := pair(t)
		c.Close()
		if st := Peek(c); st != Closed {
			t.Fatalf("%v, want Closed", st)
		}
	})
	t.Run("NotASocket", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		if st := Peek(a); st != Unknown {
			t.Fatalf("%v, want Unknown", st)
		}
	})
}
