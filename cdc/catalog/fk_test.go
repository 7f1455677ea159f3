package catalog_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/lab/labtest"
)

// TestForeignKeys reads a real server's foreign keys: composite ones in
// their column order, one that references a table of another schema, one
// that references its own table, and the actions as information_schema
// names them.
func TestForeignKeys(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	for _, q := range []string{
		"CREATE DATABASE lending",
		"CREATE DATABASE ref",
		"CREATE TABLE ref.products (code VARCHAR(8), version INT, PRIMARY KEY (code, version))",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, product VARCHAR(8), product_version INT, parent_id BIGINT NULL," +
			" CONSTRAINT fk_product FOREIGN KEY (product, product_version) REFERENCES ref.products (code, version) ON UPDATE CASCADE," +
			" CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES lending.loans (id) ON DELETE SET NULL)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	product := catalog.FK{Name: "fk_product", Schema: "lending", Table: "loans", Cols: []string{"product", "product_version"},
		RefSchema: "ref", RefTable: "products", RefCols: []string{"code", "version"}, OnDelete: "RESTRICT", OnUpdate: catalog.Cascade}
	parent := catalog.FK{Name: "fk_parent", Schema: "lending", Table: "loans", Cols: []string{"parent_id"},
		RefSchema: "lending", RefTable: "loans", RefCols: []string{"id"}, OnDelete: catalog.SetNull, OnUpdate: "RESTRICT"}
	c := &catalog.Cache{DB: db}
	of, to, err := c.ForeignKeys(ctx, "lending", "loans")
	if err != nil {
		t.Fatal(err)
	}
	if want := []catalog.FK{parent, product}; !reflect.DeepEqual(of, want) {
		t.Errorf("loans' foreign keys:\n got %+v\nwant %+v", of, want)
	}
	if want := []catalog.FK{parent}; !reflect.DeepEqual(to, want) {
		t.Errorf("the keys that reference loans:\n got %+v\nwant %+v", to, want)
	}
	if of, to, err := c.ForeignKeys(ctx, "ref", "products"); err != nil || of != nil || !reflect.DeepEqual(to, []catalog.FK{product}) {
		t.Errorf("products: of %+v, to %+v (%v); want none, and fk_product", of, to, err)
	}
	// Both readers agree; a name InnoDB's dictionary encodes (a table
	// named with a dash) sends ForeignKeys to information_schema.
	innodb, err := catalog.InnodbForeignKeys(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if schema, err := catalog.SchemaForeignKeys(ctx, db); err != nil || !reflect.DeepEqual(innodb, schema) {
		t.Errorf("InnoDB's dictionary says\n%+v\ninformation_schema says\n%+v (%v)", innodb, schema, err)
	}
	if _, err := db.Exec("CREATE TABLE lending.`loan-notes` (id BIGINT PRIMARY KEY, loan_id BIGINT, FOREIGN KEY fk_note (loan_id) REFERENCES lending.loans (id) ON DELETE CASCADE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.InnodbForeignKeys(ctx, db); err == nil {
		t.Error("InnoDB's dictionary read an encoded name without an error")
	}
	c.Forget()
	if _, to, err := c.ForeignKeys(ctx, "lending", "loans"); err != nil || len(to) != 2 || to[0].Table != "loan-notes" {
		t.Errorf("with loan-notes: %+v (%v); want fk_note of loan-notes and fk_parent", to, err)
	}
	// A schema change is seen after Forget.
	if _, err := db.Exec("ALTER TABLE lending.loans DROP FOREIGN KEY fk_parent"); err != nil {
		t.Fatal(err)
	}
	c.Forget()
	if _, to, err := c.ForeignKeys(ctx, "lending", "loans"); err != nil || len(to) != 1 {
		t.Errorf("after the drop: %+v (%v); want fk_note only", to, err)
	}
}
