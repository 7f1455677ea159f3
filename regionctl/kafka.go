package regionctl

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"
	"github.com/spf13/cobra"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/preflight"
)

func newKafkaCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Create or check each region's replication topic",
		Long: `Each region's capture publishes to one topic in that region's Kafka
(region.cdc.<name>). Capture does not create it: kafka init does, with
replication.topic's partitions, replication factor, retention and
min.insync.replicas, and kafka check compares what exists with them.`,
		Example: `  regionctl kafka init --config deploy.yaml
  regionctl kafka check --config deploy.yaml --json`,
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Compare every region's topic with replication.topic",
		Long: `check describes every region's topic and its retention.ms and
min.insync.replicas, and prints what differs from replication.topic, with the
fix (the exit status is 1 when something is wrong; a partition count that
differs is a warning).`,
		Example: `  regionctl kafka check --config deploy.yaml
  regionctl kafka check --dir ./lab-demo --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			var fs []preflight.Finding
			for _, r := range cfg.Regions {
				fs = append(fs, topicFindings(cfg, r.Name)...)
			}
			return g.reportFindings(fs, true)
		},
	}
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create every region's topic, or set its retention and min.insync.replicas",
		Long: `init creates each region's topic that does not exist, with
replication.topic's partitions, replication factor, retention.ms and
min.insync.replicas, and sets the last two on a topic that exists. It never
changes an existing topic's partition count (that moves buckets between
partitions: do it at a quiet time with kafka-topics --alter) nor its
replicas. Then it checks every topic, as kafka check does.`,
		Example: `  regionctl kafka init --config deploy.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			for _, r := range cfg.Regions {
				did, err := initTopic(cfg, r.Name)
				if err != nil {
					return fmt.Errorf("region %s: %w", r.Name, err)
				}
				fmt.Fprintf(g.progress(), "region %s: topic %s %s\n", r.Name, capture.Topic(r.Name), did)
			}
			var fs []preflight.Finding
			for _, r := range cfg.Regions {
				fs = append(fs, topicFindings(cfg, r.Name)...)
			}
			return g.reportFindings(fs, true)
		},
	}
	cmd.AddCommand(initCmd, check)
	return cmd
}

// initTopic creates region's topic as replication.topic says, or sets
// its retention and min.insync.replicas; it says which it did.
func initTopic(cfg *config.Config, region string) (string, error) {
	admin, err := kafkaAdmin(cfg, region)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	spec, topic := cfg.Replication.Topic, capture.Topic(region)
	retention := strconv.FormatInt(spec.Retention.Milliseconds(), 10)
	isr := strconv.Itoa(spec.MinInsyncReplicas)
	entries := map[string]*string{"retention.ms": &retention, "min.insync.replicas": &isr}
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		return "", fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if len(md) == 1 && errors.Is(md[0].Err, sarama.ErrUnknownTopicOrPartition) {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: int32(spec.Partitions), ReplicationFactor: int16(spec.ReplicationFactor), ConfigEntries: entries}, false)
		if err != nil {
			return "", fmt.Errorf("create topic %s: %w (regionctl's Kafka user needs Create on the cluster or the topic)", topic, err)
		}
		return fmt.Sprintf("created: %d partitions, %d replicas, retention %s, min.insync.replicas %d", spec.Partitions, spec.ReplicationFactor, spec.Retention, spec.MinInsyncReplicas), nil
	}
	if len(md) == 1 && md[0].Err != sarama.ErrNoError {
		return "", fmt.Errorf("describe topic %s: %w", topic, md[0].Err)
	}
	if err := admin.AlterConfig(sarama.TopicResource, topic, entries, false); err != nil {
		return "", fmt.Errorf("set retention.ms and min.insync.replicas on %s: %w (regionctl's Kafka user needs AlterConfigs on the topic)", topic, err)
	}
	return fmt.Sprintf("exists: retention %s and min.insync.replicas %d set", spec.Retention, spec.MinInsyncReplicas), nil
}

// reportFindings prints findings as JSON, or as a table (the failed ones,
// or all), and returns ExitFailed's error when one failed with severity
// error or worse.
func (g *globals) reportFindings(fs []preflight.Finding, all bool) error {
	bad := preflight.Failed(fs, preflight.Error)
	if g.json {
		if err := g.printJSON(map[string]any{"ok": len(bad) == 0, "findings": fs}); err != nil {
			return err
		}
	} else {
		printFindings(g, fs, all)
	}
	if len(bad) > 0 {
		return reported(fmt.Errorf("%d check(s) failed", len(bad)))
	}
	return nil
}
