// Command ceiling is a proxy that does nothing but forward, to measure what
// the chat throughput target of issue 4 (Sluice ≥ nginx) leaves for
// Sluice's own work on this machine: the throughput of a Go proxy with no
// accounting at all. It is not part of Sluice. It runs in place of the
// gateway under `sluice bench --sluice-bin`, which starts it as
// `BIN serve -c sluice.yaml`; it reads the listen address, the sticky header
// and the two backends from that file and its model file, and splits 95/5 on
// a hash of the user header as nginx and Sluice do.
//
// The binary's name chooses the design (bench/ceiling.md):
//   - ceiling-fasthttp: a goroutine per connection (fasthttp's server and
//     its HostClient), the design Sluice's hot path uses;
//   - ceiling-gnet: event loops, one per core, that hold both the client
//     connections and the backend connections, as nginx's workers do
//     (gnet). It passes whole messages with a Content-Length only: enough
//     for the chat scenario, not for streams.
//
// Neither sets a timeout, logs, counts, parses a body or checks a key.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fasthttp"
)

// conf is what the proxy needs of `sluice bench`'s configuration.
type conf struct {
	listen, userHeader string
	backends           []string // stable, then canary
}

func readConf(path string) (conf, error) {
	var c conf
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	var models string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if v, ok := strings.CutPrefix(l, "listen: "); ok {
			c.listen = v
		}
		if v, ok := strings.CutPrefix(l, "models_file: "); ok {
			models = v
		}
		if v, ok := strings.CutPrefix(l, "sticky_headers: ["); ok {
			c.userHeader = strings.TrimSuffix(v, "]")
		}
	}
	mb, err := os.ReadFile(models)
	if err != nil {
		return c, err
	}
	for _, m := range regexp.MustCompile(`http://([0-9.:]+)`).FindAllStringSubmatch(string(mb), -1) {
		c.backends = append(c.backends, m[1])
	}
	if c.listen == "" || c.userHeader == "" || len(c.backends) != 2 {
		return c, fmt.Errorf("%s: want listen, sticky_headers and a model file with two endpoints", path)
	}
	return c, nil
}

// pick splits 95/5 on the user's hash: 0 is stable, 1 canary.
func pick(user []byte) int {
	h := fnv.New32a()
	h.Write(user)
	if h.Sum32()%100 < 95 {
		return 0
	}
	return 1
}

func main() {
	if len(os.Args) != 4 || os.Args[1] != "serve" || os.Args[2] != "-c" {
		log.Fatal("usage: ceiling-fasthttp|ceiling-gnet serve -c sluice.yaml (as sluice bench starts a gateway)")
	}
	c, err := readConf(os.Args[3])
	if err != nil {
		log.Fatal(err)
	}
	switch name := filepath.Base(os.Args[0]); {
	case strings.HasSuffix(name, "-gnet"):
		err = runGnet(c)
	case strings.HasSuffix(name, "-fasthttp"):
		err = runFasthttp(c)
	default:
		err = fmt.Errorf("name the binary ceiling-fasthttp or ceiling-gnet, not %s", name)
	}
	log.Fatal(err)
}

func runFasthttp(c conf) error {
	clients := make([]*fasthttp.HostClient, len(c.backends))
	for i, b := range c.backends {
		clients[i] = &fasthttp.HostClient{Addr: b, MaxConns: 1024}
	}
	h := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/healthz" {
			ctx.WriteString("ok")
			return
		}
		if err := clients[pick(ctx.Request.Header.Peek(c.userHeader))].Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), 502)
		}
	}
	return (&fasthttp.Server{Handler: h}).ListenAndServe(c.listen)
}

// pair is a gnet connection's context: a client's, with the backend
// connections it opened on its event loop, or a backend's, with its client.
type pair struct {
	client  gnet.Conn
	ups     [2]gnet.Conn
	pending [2][]byte // a request waiting for its backend connection to open
	busy    bool      // a request is at a backend: later ones wait (pipelining)
	up      bool      // this is a backend connection, of owner, to backend idx
	owner   *pair
	idx     int
}

type loops struct {
	gnet.BuiltinEventEngine
	c conf
}

func (l *loops) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if p, ok := c.Context().(*pair); ok && p.up {
		o := p.owner
		o.ups[p.idx] = c
		if req := o.pending[p.idx]; req != nil {
			o.pending[p.idx] = nil
			c.Write(req)
		}
		return nil, gnet.None
	}
	c.SetContext(&pair{client: c})
	return nil, gnet.None
}

func (l *loops) OnTraffic(c gnet.Conn) gnet.Action {
	p := c.Context().(*pair)
	if !p.up {
		return l.serve(p)
	}
	buf, _ := c.Peek(-1)
	n, _ := message(buf)
	if n == 0 {
		return gnet.None
	}
	p.owner.client.Write(buf[:n])
	c.Discard(n)
	p.owner.busy = false
	return l.serve(p.owner)
}

// serve sends the client's next whole request to its backend.
func (l *loops) serve(p *pair) gnet.Action {
	c := p.client
	if p.busy {
		return gnet.None
	}
	buf, _ := c.Peek(-1)
	n, head := message(buf)
	if n == 0 {
		return gnet.None
	}
	if bytes.HasPrefix(head, []byte("GET /healthz ")) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		c.Discard(n)
		return gnet.None
	}
	i := pick(headerValue(head, l.c.userHeader))
	p.busy = true
	if u := p.ups[i]; u != nil {
		u.Write(buf[:n])
	} else {
		p.pending[i] = bytes.Clone(buf[:n])
		addr, err := net.ResolveTCPAddr("tcp", l.c.backends[i])
		if err != nil {
			return gnet.Close
		}
		ctx := gnet.NewContext(context.Background(), &pair{up: true, owner: p, idx: i})
		if _, err := c.EventLoop().Register(ctx, addr); err != nil {
			log.Print(err)
			return gnet.Close
		}
	}
	c.Discard(n)
	return gnet.None
}

func (l *loops) OnClose(c gnet.Conn, _ error) gnet.Action {
	if p, ok := c.Context().(*pair); ok && !p.up {
		for _, u := range p.ups {
			if u != nil {
				u.Close()
			}
		}
	}
	return gnet.None
}

// message returns the length of the whole HTTP/1.1 message (with a
// Content-Length, or none) at the start of b and its head, or 0 while it is
// not all there.
func message(b []byte) (int, []byte) {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return 0, nil
	}
	head := b[:i+2]
	n := 0
	if v := headerValue(head, "content-length"); v != nil {
		n, _ = strconv.Atoi(string(v))
	}
	if len(b) < i+4+n {
		return 0, nil
	}
	return i + 4 + n, head
}

// headerValue returns the value of the header key in head, any case.
func headerValue(head []byte, key string) []byte {
	i := bytes.Index(bytes.ToLower(head), []byte("\r\n"+strings.ToLower(key)+":"))
	if i < 0 {
		return nil
	}
	v := head[i+len(key)+3:]
	if j := bytes.IndexByte(v, '\r'); j >= 0 {
		v = v[:j]
	}
	return bytes.TrimSpace(v)
}

func runGnet(c conf) error {
	return gnet.Run(&loops{c: c}, "tcp://"+c.listen, gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLoadBalancing(gnet.LeastConnections))
}
