package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/lab"
)

// gtidSet holds MariaDB GTID ranges as a failover reports them
// ("d-s-first-last" or "d-s-seq", comma separated).
type gtidSet map[string][][2]uint64 // "d-s" -> ranges

func newGTIDSet(lists []string) gtidSet {
	s := gtidSet{}
	for _, l := range lists {
		for _, part := range strings.Split(l, ",") {
			f := strings.Split(strings.TrimSpace(part), "-")
			if len(f) < 3 {
				continue
			}
			first, err1 := strconv.ParseUint(f[2], 10, 64)
			last := first
			var err2 error
			if len(f) == 4 {
				last, err2 = strconv.ParseUint(f[3], 10, 64)
			}
			if err1 == nil && err2 == nil {
				s[f[0]+"-"+f[1]] = append(s[f[0]+"-"+f[1]], [2]uint64{first, last})
			}
		}
	}
	return s
}

func (s gtidSet) has(gtid string) bool {
	f := strings.Split(gtid, "-")
	if len(f) != 3 {
		return false
	}
	n, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return false
	}
	for _, r := range s[f[0]+"-"+f[1]] {
		if n >= r[0] && n <= r[1] {
			return true
		}
	}
	return false
}

// tableSums sums, in one region, every table of the sample database:
// its rows of users (each table's user column: user_id, or id in users),
// so that a scenario is judged on its own users and damage an earlier
// scenario left does not count again.
func tableSums(ctx context.Context, db *sql.DB, users []int64) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", lab.SampleDatabase)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	out := map[string]string{}
	for _, t := range tables {
		d, err := digest(ctx, db, t, users)
		if err != nil {
			return nil, err
		}
		out[lab.SampleDatabase+"."+t] = d
	}
	return out, nil
}

// digest sums a table's rows of users: a row count and the sum of each
// row's CRC32 over all its columns. A table without a user column is
// summed whole with CHECKSUM TABLE.
func digest(ctx context.Context, db *sql.DB, table string, users []int64) (string, error) {
	rows, err := db.QueryContext(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", lab.SampleDatabase, table)
	if err != nil {
		return "", err
	}
	var cols []string
	userCol := ""
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return "", err
		}
		cols = append(cols, "COALESCE(`"+c+"`, 'NULL')")
		if c == "user_id" || (c == "id" && table == "users") {
			userCol = c
		}
	}
	rows.Close()
	if userCol == "" {
		s, err := lab.SumTable(ctx, db, lab.SampleDatabase+"."+table)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d (%d rows)", s.Checksum, s.Rows), nil
	}
	var n, sum int64
	q := "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', " + strings.Join(cols, ", ") + "))), 0) FROM `" + table + "` WHERE `" + userCol + "` IN (" + inList(users) + ")"
	if err := db.QueryRowContext(ctx, q).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("digest of %s: %w", table, err)
	}
	return fmt.Sprintf("%d (%d rows)", sum, n), nil
}

// checkIdentical compares every table across regions, retrying for up to
// wait while rows are still in flight.
func checkIdentical(ctx context.Context, e *Env, wait time.Duration) Count {
	c := Count{Invariant: InvIdentical}
	deadline := time.Now().Add(wait)
	for {
		sums := map[string]map[string]string{} // table -> region -> sum
		var err error
		for _, r := range e.St.Regions {
			var db *sql.DB
			db, err = lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
			if err != nil {
				break
			}
			var s map[string]string
			s, err = tableSums(ctx, db, e.checked())
			db.Close()
			if err != nil {
				err = fmt.Errorf("region %s: %w", r.Name, err)
				break
			}
			for t, v := range s {
				if sums[t] == nil {
					sums[t] = map[string]string{}
				}
				sums[t][r.Name] = v
			}
		}
		c = Count{Invariant: InvIdentical, Checked: len(sums)}
		var diff []string
		if err != nil {
			c.Violations, c.Detail = 1, err.Error()
		} else {
			for t, per := range sums {
				var vals []string
				same := len(per) == len(e.St.Regions)
				for _, r := range e.St.Regions {
					vals = append(vals, r.Name+" "+per[r.Name])
					same = same && per[r.Name] == per[e.St.Regions[0].Name]
				}
				if !same {
					c.Violations++
					diff = append(diff, t+": "+strings.Join(vals, ", "))
					if time.Now().After(deadline) {
						diff = append(diff, rowDiff(ctx, e, t, e.checked(), 6)...)
					}
				}
			}
			sort.Strings(diff)
			c.Detail = strings.Join(diff, "; ")
		}
		if c.Violations == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(500 * time.Millisecond)
	}
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

// rowDiff lists (up to max) rows of a table that one region holds and
// another does not, as "region: col|col|..." lines, to show what differs.
func rowDiff(ctx context.Context, e *Env, table string, users []int64, max int) []string {
	name := strings.TrimPrefix(table, lab.SampleDatabase+".")
	per := map[string]map[string]bool{}
	for _, r := range e.St.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
		if err != nil {
			return nil
		}
		col := "user_id"
		if name == "users" {
			col = "id"
		}
		rows, err := db.QueryContext(ctx, "SELECT * FROM `"+name+"` WHERE `"+col+"` IN ("+inList(users)+")")
		if err != nil {
			db.Close()
			return nil
		}
		cols, _ := rows.Columns()
		set := map[string]bool{}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if rows.Scan(ptrs...) != nil {
				break
			}
			s := make([]string, len(vals))
			for i, v := range vals {
				s[i] = v.String
			}
			set[strings.Join(s, "|")] = true
		}
		rows.Close()
		db.Close()
		per[r.Name] = set
	}
	var out []string
	for _, r := range e.St.Regions {
		for row := range per[r.Name] {
			for _, o := range e.St.Regions {
				if o.Name != r.Name && !per[o.Name][row] && len(out) < max {
					out = append(out, fmt.Sprintf("only in %s: %s", r.Name, row))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
