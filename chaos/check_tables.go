package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/verify"
)

// checkIdentical compares every table of the sample database across
// regions with verify, judging only the scenario's users' rows (each
// table's user column: user_id, or id in users; a table without one is
// compared whole), so that damage an earlier scenario left does not count
// again. Rows still in flight are re-checked for up to wait.
func checkIdentical(ctx context.Context, e *Env, wait time.Duration) Count {
	c := Count{Invariant: InvIdentical}
	res, err := e.compareTables(ctx, wait)
	if err != nil {
		c.Violations, c.Detail = 1, err.Error()
		return c
	}
	c.Checked = len(res.Tables)
	for _, t := range res.Tables {
		if t.Error != "" || t.DifferingChunks > 0 {
			c.Violations++
		}
	}
	c.Detail = strings.Join(res.Differences(6), "; ")
	return c
}

// compareTables runs verify.Converge over the sample database's tables in
// every region, scoped to the checked users.
func (e *Env) compareTables(ctx context.Context, wait time.Duration) (*verify.Result, error) {
	regions, closeAll, err := ledger.Regions(e.St)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	all, err := verify.ReplicatedTables(ctx, regions, e.Cfg.Replication)
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, t := range all {
		if strings.HasPrefix(t, lab.SampleDatabase+".") {
			tables = append(tables, t)
		}
	}
	cfg := verify.DefaultConfig()
	users := ledger.Scope(e.checked())
	cfg.RecheckDelay, cfg.MaxDiffs = 500*time.Millisecond, 100
	cfg.Scope = func(table string, cols []string) string {
		if table == lab.SampleDatabase+".rates" && len(e.ExcludedRates) > 0 {
			return "`name` NOT IN ('" + strings.Join(e.ExcludedRates, "','") + "')"
		}
		return users(table, cols)
	}
	return verify.Converge(ctx, cfg, regions, tables, wait)
}

// offsets are where each region's topic ended, per partition.
type offsets map[string]map[int32]int64

// topicEnds records the newest offset of every partition of every
// region's topic: the echo check reads from there.
func (e *Env) topicEnds(ctx context.Context) (offsets, error) {
	out := offsets{}
	for _, r := range e.St.Regions {
		client, err := e.kafkaClient(r.Name)
		if err != nil {
			return nil, err
		}
		topic := capture.Topic(r.Name)
		parts, err := client.Partitions(topic)
		out[r.Name] = map[int32]int64{}
		for _, p := range parts {
			n, gerr := client.GetOffset(topic, p, sarama.OffsetNewest)
			if gerr != nil {
				err = gerr
				break
			}
			out[r.Name][p] = n
		}
		client.Close()
		if err != nil {
			return nil, fmt.Errorf("region %s's topic: %w", r.Name, err)
		}
	}
	return out, nil
}

// checkEcho reads every message each region's capture published since
// from and counts request rows it published that another region's app
// wrote: an applied change captured again.
func checkEcho(ctx context.Context, e *Env, from offsets) Count {
	c := Count{Invariant: InvEcho}
	var samples []string
	for _, r := range e.St.Regions {
		// A broker just restarted can drop a fresh client: retry a region.
		var checked int
		var bad []string
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if checked, bad, err = echoesOf(e, r.Name, from[r.Name]); err == nil {
				break
			}
			sleep(ctx, time.Second)
		}
		c.Checked += checked
		c.Violations += len(bad)
		if err != nil {
			c.Violations++
			bad = append(bad, err.Error())
		}
		for _, b := range bad {
			if len(samples) < 5 {
				samples = append(samples, b)
			}
		}
	}
	c.Detail = strings.Join(samples, "; ")
	return c
}

// echoesOf reads what region's capture published from the offsets on and
// returns how many request rows it saw and the echoes among them.
func echoesOf(e *Env, region string, from map[int32]int64) (int, []string, error) {
	client, err := e.kafkaClient(region)
	if err != nil {
		return 0, nil, err
	}
	defer client.Close()
	topic := capture.Topic(region)
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, nil, err
	}
	defer cons.Close()
	type read struct {
		p    int32
		msgs []*sarama.ConsumerMessage
		err  error
	}
	reads := make(chan read, len(from))
	for p, start := range from {
		go func() {
			end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				reads <- read{p: p, err: err}
				return
			}
			msgs, err := readRange(cons, topic, p, start, end)
			reads <- read{p, msgs, err}
		}()
	}
	checked := 0
	var bad []string
	var errs []error
	for range from {
		rd := <-reads
		if rd.err != nil {
			errs = append(errs, fmt.Errorf("read %s/%d: %w", topic, rd.p, rd.err))
		}
		for _, m := range rd.msgs {
			n, b := echoes(m.Value, region)
			checked += n
			bad = append(bad, b...)
		}
	}
	return checked, bad, errors.Join(errs...)
}

// echoes counts the request rows a message of region's topic inserts and
// describes those another region wrote.
func echoes(value []byte, region string) (int, []string) {
	ev, err := event.Decode(value)
	if err != nil || ev.Txn == nil {
		return 0, nil // a poison message, a heartbeat
	}
	n := 0
	var bad []string
	for _, row := range ev.Txn.Rows {
		t := ev.Txn.Tables[row.T]
		if t.Schema != lab.SampleDatabase || t.Name != "requests" || row.Op != event.Insert {
			continue
		}
		n++
		for i, col := range t.Cols {
			if col == "region" && i < len(row.After) && row.After[i].Text() != region {
				bad = append(bad, fmt.Sprintf("%s published a request written in %s (%s)", region, row.After[i].Text(), ev.Txn.GTID))
			}
		}
	}
	return n, bad
}
