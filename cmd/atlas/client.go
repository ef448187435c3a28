package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/coder/websocket"
)

// runClient enters a channel as a player over WebSocket with an entry ticket (`atlas login`
// prints one) and prints every frame it receives as a JSON line. With -stdin it sends each
// line of standard input as a frame (an action, a change_channel). A move frame makes it
// reconnect where it says with the ticket it carries, as a game client does.
func runClient(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas client")
	addr := fs.String("addr", "127.0.0.1:7575", "channel gateway, host:port or ws:// URL")
	tk := fs.String("ticket", "", "entry ticket from the login server (required unless --login; env ATLAS_TICKET)")
	login := fs.String("login", "", "the JSON line atlas login printed (or - to read it from standard input): address and ticket")
	stdin := fs.Bool("stdin", false, "send each line of standard input as a frame")
	follow := fs.Bool("follow", true, "on a move frame, reconnect where it says")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: atlas client --addr host:port --ticket T [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "client", args); err != nil {
		return usageError{err}
	}
	if *login != "" {
		res, err := readLogin(*login)
		if err != nil {
			return err
		}
		*addr, *tk = res.Address, res.Ticket
	}
	if *tk == "" {
		*tk = os.Getenv("ATLAS_TICKET")
	}
	if *tk == "" {
		fs.Usage()
		return errors.New("--ticket is required: `atlas login` prints one")
	}
	var lines <-chan string
	if *stdin {
		lines = readLines(os.Stdin)
	}
	target, ticket := *addr, *tk
	for {
		move, err := playSession(ctx, target, ticket, lines, os.Stdout)
		if err != nil || move.addr == "" || !*follow {
			return err
		}
		if move.ticket == "" {
			return fmt.Errorf("moved to %s without a ticket: log in again for that channel", move.addr)
		}
		target, ticket = move.addr, move.ticket
	}
}

// readLogin reads `atlas login`'s line: the text itself, or - for standard input.
func readLogin(text string) (loginResult, error) {
	if text == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return loginResult{}, fmt.Errorf("--login -: %w", err)
		}
		text = line
	}
	var res loginResult
	if err := json.Unmarshal([]byte(text), &res); err != nil || res.Ticket == "" || res.Address == "" {
		return loginResult{}, errors.New("--login: not the JSON line `atlas login` prints (it needs ticket and address)")
	}
	return res, nil
}

// moveTo is where a move frame sends the client, and the ticket to enter there.
type moveTo struct{ addr, ticket string }

// playSession runs one connection: enter, then frames both ways until the connection ends.
// It returns the target of a move frame, if one came.
func playSession(ctx context.Context, addr, ticket string, lines <-chan string, out io.Writer) (move moveTo, err error) {
	url := addr
	if !strings.HasPrefix(url, "ws://") && !strings.HasPrefix(url, "wss://") {
		url = "ws://" + url
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ws, _, err := websocket.Dial(dialCtx, url, nil)
	cancel()
	if err != nil {
		return move, fmt.Errorf("connect to %s: %w", url, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(16 << 20)
	enter, _ := json.Marshal(protocol.ClientFrame{Op: protocol.OpEnter, Ticket: ticket})
	if err := ws.Write(ctx, websocket.MessageText, enter); err != nil {
		return move, err
	}

	// Lines wait until the entry is confirmed: an action before it would only be refused.
	pending := lines
	lines = nil
	frames := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				readErr <- err
				close(frames)
				return
			}
			frames <- data
		}
	}()
	for {
		select {
		case <-ctx.Done():
			_ = ws.Close(websocket.StatusNormalClosure, "client quits")
			return move, nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // standard input ended; keep printing what arrives
				continue
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := ws.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				return move, err
			}
		case data, ok := <-frames:
			if !ok {
				err := <-readErr
				if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
					return move, nil
				}
				return move, err
			}
			f, err := protocol.ParseServerFrame(data)
			if err != nil {
				fmt.Fprintln(out, string(data))
				continue
			}
			fmt.Fprintln(out, string(printable(f, data)))
			switch f.Op {
			case protocol.OpEntered:
				lines = pending
			case protocol.OpMove:
				move = moveTo{addr: f.IPAddress + ":" + strconv.Itoa(int(f.Port)), ticket: f.Ticket}
				_ = ws.Close(websocket.StatusNormalClosure, "moving")
				return move, nil
			}
		}
	}
}

// printable is a frame as printed: a move's ticket is a credential, so it is not shown.
func printable(f protocol.ServerFrame, data []byte) []byte {
	if f.Ticket == "" {
		return data
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	m["ticket"] = json.RawMessage(`"(hidden)"`)
	b, err := json.Marshal(m)
	if err != nil {
		return data
	}
	return b
}

// readLines delivers the lines of r until it ends.
func readLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), protocol.MaxFrameBytes)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}
