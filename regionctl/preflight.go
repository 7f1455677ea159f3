package regionctl

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/IBM/sarama"
	"github.com/spf13/cobra"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/preflight"
)

func newPreflightCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Check every region's MySQL, Kafka topic and etcd for what replication needs",
		Long: `preflight connects to every region's MySQL (as regiond's account), Kafka and
etcd, as the deployment config says, and checks what replication needs:

  MySQL   log_bin, binlog_format=ROW, binlog_row_image=FULL,
          binlog_row_metadata=FULL (partial JSON updates and compressed
          binlogs, which capture decodes, only warn), GTIDs on
          (MySQL: gtid_mode), server_id and (MariaDB) gtid_domain_id distinct
          across regions, the account's privileges (REPLICATION SLAVE, BINLOG
          MONITOR or REPLICATION CLIENT, READ_ONLY ADMIN or CONNECTION_ADMIN),
          and the replicated tables (a table without a primary key needs
          conflict: overwrite)
  Kafka   each region's topic exists with replication.topic's partitions,
          replicas, retention and min.insync.replicas (regionctl kafka init
          makes it so)
  etcd    reachable, and regiond's user can write under etcd.prefix (only
          where regiond's etcd secret is readable: regionctl's own identity
          is its API token, and without the secret this check is a warning)

Each failed check names the setting, what it is, what it must be and the
fix. A fatal one would make capture lose data: regiond does not start
capture while it holds, and says the same in its status. Prints the failed
checks (--all: every check); the exit status is 1 when a check failed with
severity error or fatal, 0 when only warnings (or nothing) remain.`,
		Example: `  regionctl preflight --config deploy.yaml
  regionctl preflight --dir ./lab-demo --all
  regionctl preflight --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			return g.reportFindings(runPreflight(cmd.Context(), cfg), all)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "print the checks that passed too")
	return cmd
}

// runPreflight runs every check of the deployment; what cannot be
// reached is a finding too.
func runPreflight(ctx context.Context, cfg *config.Config) []preflight.Finding {
	var fs []preflight.Finding
	vars := map[string]map[string]string{}
	flavor := preflight.MariaDB
	for _, r := range cfg.Regions {
		if r.MySQL.Flavor == preflight.MySQL {
			flavor = preflight.MySQL
		}
		db, err := dial.MySQL(cfg, r.Name)
		if err == nil {
			var found []preflight.Finding
			mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			found, vars[r.Name], err = preflight.MySQLServer(mctx, db, r.Name, r.MySQL.Flavor, cfg.Replication)
			cancel()
			db.Close()
			fs = append(fs, found...)
		}
		if err != nil {
			fs = append(fs, preflight.Finding{Region: r.Name, Check: "mysql", Got: err.Error(), Severity: preflight.Error,
				Fix: fmt.Sprintf("check regions[%s].mysql (dsn, password, tls) and that the server answers", r.Name)})
		}
		fs = append(fs, topicFindings(cfg, r.Name)...)
	}
	fs = append(fs, preflight.CheckDistinct(flavor, vars, cfg.RegionNames())...)
	return append(fs, etcdFinding(ctx, cfg))
}

// etcdFinding checks etcd as regiond's etcd user, when its secret is
// readable here.
func etcdFinding(ctx context.Context, cfg *config.Config) preflight.Finding {
	if e := cfg.Etcd; e.Username != "" {
		if _, err := cfg.Secret("etcd", e.PasswordEnv, e.PasswordFile); err != nil {
			// regionctl's own identity is its API token; regiond's etcd
			// key need not be on the operator's machine.
			return preflight.Finding{Check: "etcd", Got: "not checked: regiond's etcd secret is not here (" + err.Error() + ")", Severity: preflight.Warning,
				Fix: "the etcd check runs as regiond's etcd user: run regionctl preflight on a regiond host (or where etcd.password_env/password_file is readable) to check its grants"}
		}
	}
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cli, err := dial.Etcd(ectx, cfg)
	if err != nil {
		return preflight.Finding{Check: "etcd", Got: err.Error(), Severity: preflight.Fatal, Fix: "check etcd.endpoints, its TLS and credentials"}
	}
	defer cli.Close()
	return preflight.Etcd(ectx, cli, cfg.Etcd.Prefix)
}

// kafkaAdmin opens a cluster admin of region's Kafka.
func kafkaAdmin(cfg *config.Config, region string) (sarama.ClusterAdmin, error) {
	brokers, sc, err := dial.Kafka(cfg, region)
	if err != nil {
		return nil, err
	}
	sc.ClientID = "regionctl"
	return sarama.NewClusterAdmin(brokers, sc)
}

func topicFindings(cfg *config.Config, region string) []preflight.Finding {
	admin, err := kafkaAdmin(cfg, region)
	if err != nil {
		return []preflight.Finding{{Region: region, Check: "kafka", Got: err.Error(), Severity: preflight.Error,
			Fix: fmt.Sprintf("check regions[%s].kafka (brokers, tls, sasl) and that a broker answers", region)}}
	}
	defer admin.Close()
	return preflight.Topic(admin, region, capture.Topic(region), cfg.Replication.Topic)
}

// printFindings prints the failed findings (all: every one) as a table.
func printFindings(g *globals, fs []preflight.Finding, all bool) {
	w := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tCHECK\tRESULT\tGOT\tWANT")
	shown, failed := 0, 0
	for _, f := range fs {
		if !f.OK {
			failed++
		}
		if f.OK && !all {
			continue
		}
		result := "ok"
		if !f.OK {
			result = strings.ToUpper(string(f.Severity))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", orDash(f.Region), f.Check, result, orDash(f.Got), orDash(f.Want))
		shown++
	}
	w.Flush()
	for _, f := range fs {
		if !f.OK {
			fmt.Fprintf(g.out, "\n%s %s: %s", strings.ToUpper(string(f.Severity)), where(f), f.Fix)
		}
	}
	if failed > 0 {
		fmt.Fprintln(g.out)
	}
	fmt.Fprintf(g.out, "\n%d checks, %d failed\n", len(fs), failed)
}

func where(f preflight.Finding) string {
	if f.Region == "" {
		return f.Check
	}
	return "region " + f.Region + " " + f.Check
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
