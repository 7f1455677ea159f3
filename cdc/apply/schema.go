package apply

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/cdc/tombstone"
)

// schema is the applier's own state in the target database. Capture never
// publishes a transaction that writes to it (see binlog.MetaSchema).
var schema = []string{
	"CREATE DATABASE IF NOT EXISTS " + binlog.MetaSchema,
	// One row per inbound partition: how far it is applied. Written in the
	// same transaction as the rows it accounts for.
	`CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.apply_checkpoints (
		source VARCHAR(64) NOT NULL,
		part INT NOT NULL,
		kafka_offset BIGINT NOT NULL,
		seq BIGINT UNSIGNED NOT NULL COMMENT 'watermark: every txn of this partition up to seq is applied',
		pos VARCHAR(4096) NOT NULL COMMENT 'source GTID set at the watermark',
		gtid VARCHAR(256) NOT NULL COMMENT 'last applied source GTID',
		source_time TIMESTAMP(6) NULL COMMENT 'when capture sent the message at the watermark',
		applied_at TIMESTAMP(6) NOT NULL,
		txns BIGINT UNSIGNED NOT NULL DEFAULT 0,
		PRIMARY KEY (source, part)
	) ENGINE=InnoDB`,
	// Schema changes applied, so each runs once even across restarts.
	`CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.apply_ddl (
		source VARCHAR(64) NOT NULL,
		seq BIGINT UNSIGNED NOT NULL,
		gtid VARCHAR(256) NOT NULL,
		stmt MEDIUMTEXT NOT NULL,
		applied_at TIMESTAMP(6) NOT NULL,
		conn_id BIGINT UNSIGNED NOT NULL COMMENT 'connection that runs it: capture skips its next statement',
		state VARCHAR(8) NOT NULL COMMENT 'started, then done',
		PRIMARY KEY (source, seq)
	) ENGINE=InnoDB`,
	// Every conflict detected, with both images and the decision.
	`CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.conflicts (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		detected_at TIMESTAMP(6) NOT NULL,
		source VARCHAR(64) NOT NULL,
		target VARCHAR(64) NOT NULL,
		source_gtid VARCHAR(256) NOT NULL,
		db VARCHAR(64) NOT NULL,
		tbl VARCHAR(64) NOT NULL,
		pk VARCHAR(1024) NOT NULL,
		op CHAR(1) NOT NULL,
		policy VARCHAR(32) NOT NULL,
		decision VARCHAR(32) NOT NULL,
		reason VARCHAR(512) NOT NULL,
		local_image MEDIUMTEXT NULL,
		incoming_before MEDIUMTEXT NULL,
		incoming_after MEDIUMTEXT NULL,
		KEY (db, tbl, detected_at)
	) ENGINE=InnoDB`,
	// Which region's change each row of a home-cell-wins table holds (or
	// its absence, digest NULL), written with every apply when there are
	// three regions or more (Config.Origins): a conflict between two
	// regions that do not own the row must know whether the row here is
	// the owner's. A row changed here since no longer matches its digest.
	`CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.origins (
		db VARCHAR(64) NOT NULL,
		tbl VARCHAR(64) NOT NULL,
		pk_md5 BINARY(16) NOT NULL,
		pk VARCHAR(1024) NOT NULL,
		region VARCHAR(64) NOT NULL,
		digest BINARY(16) NULL COMMENT 'MD5 of the row as JSON_OBJECT; NULL: deleted',
		PRIMARY KEY (db, tbl, pk_md5)
	) ENGINE=InnoDB`,
	// Transactions an operator skipped on a halted link (regionctl link
	// skip): kept whole until someone resolves them.
	`CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.quarantine (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		source VARCHAR(64) NOT NULL,
		part INT NOT NULL,
		kafka_offset BIGINT NOT NULL,
		seq BIGINT UNSIGNED NOT NULL COMMENT '0: the message did not decode',
		gtid VARCHAR(256) NOT NULL,
		error TEXT NOT NULL COMMENT 'why the partition halted on it',
		payload LONGBLOB NOT NULL COMMENT 'the Kafka message as it was',
		skipped_at TIMESTAMP(6) NOT NULL,
		skipped_by VARCHAR(128) NOT NULL,
		reason VARCHAR(512) NOT NULL,
		resolved_at TIMESTAMP(6) NULL,
		resolved_by VARCHAR(128) NULL,
		resolution VARCHAR(512) NULL,
		KEY (source, resolved_at)
	) ENGINE=InnoDB`,
	// What this region deleted of rows whose conflicts are decided by
	// version (cdc/tombstone).
	tombstone.Schema,
	// Under which routing stamp each region made its last change of a
	// home-cell-wins row (cdc/claim).
	claim.Schema,
	// Where data-access guards stamp the application's transactions.
	binlog.StampSchema,
	// Writes of buckets their source region did not own (ownership.go).
	ViolationsSchema,
	// Tables copied in from a donor region, with their positions (cdc/seed).
	seed.Schema,
	// Links an operator paused (pause.go).
	pauseSchema,
}

// EnsureSchema creates the applier's tables if they are missing.
func EnsureSchema(ctx context.Context, db *sql.DB) error {
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("apply: create %s tables: %w", binlog.MetaSchema, err)
		}
	}
	return nil
}
