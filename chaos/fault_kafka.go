package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/lab"
)

// kafkaClient connects to a region's broker.
func (e *Env) kafkaClient(region string) (sarama.Client, error) {
	r, _ := e.St.Region(region)
	sc := sarama.NewConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	sc.Consumer.Return.Errors = true
	sc.Consumer.MaxWaitTime = 20 * time.Millisecond
	sc.Net.DialTimeout = 5 * time.Second
	return sarama.NewClient([]string{fmt.Sprintf("127.0.0.1:%d", r.KafkaPort)}, sc)
}

// pickLink picks a link (source, target) by the seed.
func (e *Env) pickLink() (string, string) {
	n := len(e.St.Regions)
	i := e.Rand.IntN(n)
	j := (i + 1 + e.Rand.IntN(n-1)) % n
	return e.St.Regions[i].Name, e.St.Regions[j].Name
}

// Duplicate delivers a link's messages twice: it kills the target's
// regiond, produces the last Resend messages of every partition again (a
// capture re-send: the applier reads them after what it applied), and
// starts the target again. Exactly-once apply must absorb all of it.
type Duplicate struct {
	Resend int

	source, target string
	resent         int
}

var _ Fault = (*Duplicate)(nil)

func (d *Duplicate) String() string {
	if d.source == "" {
		return "duplicate delivery"
	}
	return fmt.Sprintf("link %s->%s: %d messages produced again", d.source, d.target, d.resent)
}

// Inject does it all; the target is running again when it returns.
func (d *Duplicate) Inject(ctx context.Context, e *Env) error {
	if d.Resend == 0 {
		d.Resend = 20
	}
	d.source, d.target = e.pickLink()
	if err := lab.Kill(ctx, e.St.Dir, d.target, "regiond"); err != nil {
		return err
	}
	client, err := e.kafkaClient(d.source)
	if err != nil {
		return err
	}
	defer client.Close()
	topic := capture.Topic(d.source)
	if d.resent, err = resend(client, topic, d.Resend); err != nil {
		return fmt.Errorf("re-send on %s: %w", topic, err)
	}
	return e.start(ctx, d.target, "regiond")
}

// Heal has nothing left to do.
func (d *Duplicate) Heal(context.Context, *Env) error { return nil }

// resend produces the last n messages of every partition again, as they
// were, and returns how many.
func resend(client sarama.Client, topic string, n int) (int, error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return 0, err
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, err
	}
	defer cons.Close()
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return 0, err
	}
	defer prod.Close()
	total := 0
	for _, p := range parts {
		oldest, _ := client.GetOffset(topic, p, sarama.OffsetOldest)
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return total, err
		}
		from := max(oldest, newest-int64(n))
		if from >= newest {
			continue
		}
		msgs, err := readRange(cons, topic, p, from, newest)
		if err != nil {
			return total, err
		}
		for _, m := range msgs {
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: p, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}); err != nil {
				return total, err
			}
			total++
		}
	}
	return total, nil
}

// readRange reads the messages of a partition in [from, to).
func readRange(cons sarama.Consumer, topic string, p int32, from, to int64) ([]*sarama.ConsumerMessage, error) {
	if from >= to {
		return nil, nil
	}
	pc, err := cons.ConsumePartition(topic, p, from)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-pc.Messages():
			if m.Offset >= to {
				return out, nil
			}
			out = append(out, m)
			if m.Offset == to-1 {
				return out, nil
			}
		case err := <-pc.Errors():
			return out, err
		case <-timeout:
			return out, fmt.Errorf("%s/%d: read %d of offsets %d..%d in 30s", topic, p, len(out), from, to-1)
		}
	}
}

// Poison produces a message no applier can read into a region's topic.
// The link must halt that partition loudly (its status names the
// partition and the reason) and apply nothing after it there, while the
// other partitions go on. The product has no way to skip a halted
// message yet: the link stays halted, so a poison scenario leaves the
// lab unfit for more scenarios (the runner runs it last), and its
// partition's users are checked by Verify instead of the invariants.
type Poison struct {
	source, target string
	part           int32
	at             time.Time
	halted         string
}

var _ Fault = (*Poison)(nil)
var _ Verifier = (*Poison)(nil)

func (p *Poison) String() string {
	if p.source == "" {
		return "poison message"
	}
	return fmt.Sprintf("poison message in %s partition %d: link %s->%s %s", capture.Topic(p.source), p.part, p.source, p.target, p.halted)
}

// Inject produces the message and excludes its partition's users.
func (p *Poison) Inject(ctx context.Context, e *Env) error {
	p.source, p.target = e.pickLink()
	client, err := e.kafkaClient(p.source)
	if err != nil {
		return err
	}
	defer client.Close()
	topic := capture.Topic(p.source)
	parts, err := client.Partitions(topic)
	if err != nil {
		return err
	}
	p.part = parts[e.Rand.IntN(len(parts))]
	for _, u := range e.Users {
		if capture.Partition(strconv.Itoa(e.bucketOf(u)), int32(len(parts))) == p.part {
			e.Excluded[u] = true
		}
	}
	for _, name := range lab.Rates {
		if capture.Partition(lab.SampleDatabase+".rates/"+name, int32(len(parts))) == p.part {
			e.ExcludedRates = append(e.ExcludedRates, name)
		}
	}
	e.Halted = append(e.Halted, p.source+"->"+p.target)
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return err
	}
	defer prod.Close()
	p.at = time.Now()
	_, _, err = prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: p.part, Value: sarama.StringEncoder(`{"v":1,"kind":"txn","src":"` + p.source + `","seq":1,"txn":{"gtid":"poison","bucket":1,"rows":[{"t":7,"op":"i"}]}}`)})
	return err
}

// Heal waits for the halt to show in the target's status.
func (p *Poison) Heal(ctx context.Context, e *Env) error {
	want := fmt.Sprintf("partition %d", p.part)
	return lab.WaitUntil(ctx, 30*time.Second, func() bool {
		s, err := e.at(p.target).Status(ctx)
		if err != nil {
			return false
		}
		for _, l := range s.Links {
			if l.From == p.source && l.State == "halted" && strings.Contains(l.Error, want) {
				p.halted = "halted: " + l.Error
				return true
			}
		}
		return false
	})
}

// Verify counts the poisoned partition's writes sent after the poison
// that reached the target anyway (must be 0), and fails when the halt
// never showed.
func (p *Poison) Verify(ctx context.Context, e *Env, h []Write) Count {
	c := Count{Invariant: "halt"}
	if p.halted == "" {
		c.Violations, c.Detail = 1, "the link never reported the halt"
		return c
	}
	r, _ := e.St.Region(p.target)
	db, err := lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
	if err != nil {
		c.Violations, c.Detail = 1, err.Error()
		return c
	}
	defer db.Close()
	var after []string
	for _, w := range h {
		if w.Outcome == Acked && e.Excluded[w.User] && w.Region == p.source && w.Sent.After(p.at) {
			c.Checked++
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM requests WHERE request_id = ?", w.ID).Scan(&n); err != nil {
				c.Violations, c.Detail = c.Violations+1, err.Error()
				continue
			}
			if n > 0 {
				c.Violations++
				after = append(after, w.ID)
			}
		}
	}
	slices.Sort(after)
	c.Detail = fmt.Sprintf("%s; %d writes of partition %d after the poison, none may reach %s", p.halted, c.Checked, p.part, p.target)
	if len(after) > 0 {
		c.Detail += ": applied " + strings.Join(after[:min(5, len(after))], ", ")
	}
	return c
}
