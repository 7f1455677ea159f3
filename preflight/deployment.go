package preflight

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/config"
)

// MySQLServer checks one region's MySQL as regiond's account sees it:
// the source settings, the account's privileges and the replicated
// tables. It also returns the server's variables, for CheckDistinct.
func MySQLServer(ctx context.Context, db *sql.DB, region, flavor string, rep config.Replication) ([]Finding, map[string]string, error) {
	vars, err := Vars(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("region %s: %w", region, err)
	}
	out := CheckSource(region, flavor, vars)
	grants, err := Grants(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("region %s: %w", region, err)
	}
	out = append(out, CheckGrants(region, flavor, grants)...)
	problems, err := apply.CheckTables(ctx, db, rep)
	if err != nil {
		return nil, nil, fmt.Errorf("region %s: %w", region, err)
	}
	if len(problems) == 0 {
		out = append(out, Finding{Region: region, Check: "replicated tables", Got: "every table can be applied", OK: true})
	}
	for _, p := range problems {
		out = append(out, Finding{Region: region, Check: "replicated tables", Severity: Error, Fix: p})
	}
	return out, vars, nil
}

// Topic checks region's replication topic against spec: it exists, with
// spec's partitions, replicas on spec's brokers, retention at least
// spec's, and min.insync.replicas as spec says.
func Topic(admin sarama.ClusterAdmin, region, topic string, spec config.Topic) []Finding {
	check := "kafka topic " + topic
	md, err := admin.DescribeTopics([]string{topic})
	if err == nil && len(md) == 1 && md[0].Err != sarama.ErrNoError {
		err = md[0].Err
	}
	if err == nil && len(md) != 1 {
		err = fmt.Errorf("the broker described %d topics", len(md))
	}
	if err != nil {
		return []Finding{{Region: region, Check: check, Got: "missing: " + err.Error(), Want: "present", Severity: Error,
			Fix: "regionctl kafka init creates it as replication.topic says (capture does not create it)"}}
	}
	var out []Finding
	parts := len(md[0].Partitions)
	f := Finding{Region: region, Check: check + " partitions", Got: strconv.Itoa(parts), Want: strconv.Itoa(spec.Partitions), OK: parts == spec.Partitions}
	if !f.OK {
		f.Severity, f.Fix = Warning, "replication.topic.partitions differs from the topic: set it to the topic's count, or add partitions (kafka-topics --alter --partitions N) at a quiet time"
	}
	out = append(out, f)
	replicas := 0
	for _, p := range md[0].Partitions {
		if replicas == 0 || len(p.Replicas) < replicas {
			replicas = len(p.Replicas)
		}
	}
	f = Finding{Region: region, Check: check + " replicas", Got: strconv.Itoa(replicas), Want: fmt.Sprintf("%d or more", spec.ReplicationFactor), OK: replicas >= spec.ReplicationFactor}
	if !f.OK {
		f.Severity, f.Fix = Error, "a partition on fewer brokers than replication.topic.replication_factor loses acknowledged transactions with a broker: reassign its replicas (kafka-reassign-partitions)"
	}
	out = append(out, f)
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms", "min.insync.replicas"}})
	if err != nil {
		return append(out, Finding{Region: region, Check: check + " config", Got: err.Error(), Severity: Warning, Fix: "regiond's Kafka user needs DescribeConfigs on the topic for this check"})
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value
	}
	want := spec.Retention.Milliseconds()
	ms, err := strconv.ParseInt(got["retention.ms"], 10, 64)
	f = Finding{Region: region, Check: check + " retention", Got: retention(got["retention.ms"], ms, err), Want: fmt.Sprintf("%s or longer", spec.Retention), OK: err == nil && (ms < 0 || ms >= want)}
	if !f.OK {
		f.Severity, f.Fix = Error, "an applier down longer than the retention finds its next message deleted and must be re-seeded: regionctl kafka init sets retention.ms to replication.topic.retention"
	}
	out = append(out, f)
	isr, err := strconv.Atoi(got["min.insync.replicas"])
	f = Finding{Region: region, Check: check + " min.insync.replicas", Got: orUnset(got["min.insync.replicas"]), Want: strconv.Itoa(spec.MinInsyncReplicas), OK: err == nil && isr >= spec.MinInsyncReplicas}
	if !f.OK {
		f.Severity, f.Fix = Error, "with acks=all, a message is acknowledged once min.insync.replicas brokers have it: fewer than replication.topic.min_insync_replicas loses it with a broker; regionctl kafka init sets it"
	}
	return append(out, f)
}

func retention(raw string, ms int64, err error) string {
	switch {
	case err != nil:
		return "unknown (" + orUnset(raw) + ")"
	case ms < 0:
		return "unlimited"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

// Etcd checks that regiond's etcd user can write, read and delete a key
// under prefix.
func Etcd(ctx context.Context, cli *clientv3.Client, prefix string) Finding {
	f := Finding{Check: "etcd read/write under " + prefix}
	key := prefix + "preflight/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cli.Put(ctx, key, "ok")
	if err == nil {
		var r *clientv3.GetResponse
		if r, err = cli.Get(ctx, key); err == nil && (len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "ok") {
			err = errors.New("the key written was not read back")
		}
	}
	if err == nil {
		_, err = cli.Delete(ctx, key)
	}
	if err != nil {
		f.Got, f.Want, f.Severity = err.Error(), "put, get and delete", Fatal
		f.Fix = "routers, switches and checkpoints live in etcd: check etcd.endpoints, and grant etcd.username readwrite on etcd.prefix (etcdctl role grant-permission --prefix)"
		return f
	}
	f.OK, f.Got = true, "put, get and delete"
	return f
}
