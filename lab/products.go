package lab

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/regionplatform/region/router/guard"
)

// ProductsTable is the lab app's global table (config class global): the
// product catalogue, written only in its home region (the lab's first,
// until regionctl global move), read everywhere.
const ProductsTable = SampleDatabase + ".products"

// CatalogueRow is the products row every product write raises: its
// version counts the writes applied (a write applied twice shows).
const CatalogueRow = "_catalogue"

// productsSchema creates the catalogue with its counter row.
var productsSchema = []string{
	`CREATE TABLE IF NOT EXISTS ` + ProductsTable + ` (
		code VARCHAR(64) NOT NULL PRIMARY KEY COMMENT 'the request id that created it, or _catalogue',
		rate_bp BIGINT NOT NULL,
		version BIGINT NOT NULL DEFAULT 1 COMMENT '_catalogue: 1 + the products written',
		region VARCHAR(32) NOT NULL COMMENT 'the region that wrote it: its home then',
		updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB COMMENT 'a global table: written only in its home region'`,
	`INSERT IGNORE INTO ` + ProductsTable + ` (code, rate_bp, region) VALUES ('` + CatalogueRow + `', 0, '')`,
}

// ProductRequest is the body of POST /products: add product RequestID
// with a rate, and raise the catalogue's version, in one transaction.
type ProductRequest struct {
	RequestID string `json:"request_id"`
	RateBP    int64  `json:"rate_bp"`
}

// ProductReply is the app's answer to POST /products and GET /products/{code}.
type ProductReply struct {
	Code   string `json:"code"`
	RateBP int64  `json:"rate_bp,omitempty"`
	// Region served the request; Written is the region that wrote the row.
	Region  string `json:"region"`
	Written string `json:"written,omitempty"`
	// Version is the row's version (the catalogue's: 1 + products).
	Version int64 `json:"version,omitempty"`
	// GTID is the transaction that wrote it in Region.
	GTID      string `json:"gtid,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (a *App) productReply(w http.ResponseWriter, code int, v ProductReply) {
	v.Region = a.region
	answer(w, code, v.GTID, v)
}

// addProduct writes one product (POST /products) in a transaction the
// guard admits only in the table's home: the new row and the
// catalogue's version. A request id applied before answers 200 with
// duplicate set.
func (a *App) addProduct(w http.ResponseWriter, r *http.Request) {
	var req ProductRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.RequestID == "" || len(req.RequestID) > 64 || req.RequestID == CatalogueRow || req.RateBP < 0 {
		a.productReply(w, http.StatusBadRequest, ProductReply{Error: `send {"request_id": "unique, up to 64 characters", "rate_bp": N >= 0}`})
		return
	}
	gtid, err := a.inConn(r.Context(), guard.Writes{Tables: []string{ProductsTable}}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO products (code, rate_bp, region) VALUES (?, ?, ?)`, req.RequestID, req.RateBP, a.region); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `UPDATE products SET version = version + 1, rate_bp = ?, region = ? WHERE code = ?`, req.RateBP, a.region, CatalogueRow)
		return err
	})
	switch {
	case isDuplicate(err):
		a.productReply(w, http.StatusOK, ProductReply{Code: req.RequestID, Duplicate: true})
	case err != nil:
		a.productReply(w, errorCode(err), ProductReply{Code: req.RequestID, Error: err.Error()})
	default:
		a.productReply(w, http.StatusCreated, ProductReply{Code: req.RequestID, RateBP: req.RateBP, Written: a.region, GTID: gtid})
	}
}

// product reads one product (GET /products/{code}) from the region's copy.
func (a *App) product(w http.ResponseWriter, r *http.Request) {
	rep := ProductReply{Code: r.PathValue("code")}
	err := a.db.QueryRowContext(r.Context(), `SELECT rate_bp, region, version FROM products WHERE code = ?`, rep.Code).Scan(&rep.RateBP, &rep.Written, &rep.Version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		rep.Error = "no such product (here: it may not have been replicated yet)"
		a.productReply(w, http.StatusNotFound, rep)
	case err != nil:
		rep.Error = err.Error()
		a.productReply(w, http.StatusInternalServerError, rep)
	default:
		a.productReply(w, http.StatusOK, rep)
	}
}

// userWrites declares the users a transaction writes.
func userWrites(users ...int64) guard.Writes {
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = strconv.FormatInt(u, 10)
	}
	return guard.Writes{Users: keys}
}
