package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/gateway"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

// demoGlobal writes the app's product catalogue, a global table homed in
// a, through b's gateway (the writes land in a), moves its home to b
// (regionctl global move), writes through a's gateway (they land in b),
// and compares the catalogue in both regions.
func demoGlobal(ctx context.Context, g *globals, st *lab.State) error {
	out := g.out
	gw := func(i int) string { return st.Regions[i].GatewayURL() }
	write := func(base, prefix string, n int) (map[string]int, error) {
		by := map[string]int{}
		for i := range n {
			body, _ := json.Marshal(lab.ProductRequest{RequestID: fmt.Sprintf("%s-%d", prefix, i), RateBP: int64(100 + i)})
			for try := 0; ; try++ {
				resp, err := http.Post(base+"/products", "application/json", bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				var rep lab.ProductReply
				_ = json.NewDecoder(resp.Body).Decode(&rep)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
					by[rep.Region]++
					break
				}
				if resp.StatusCode != http.StatusServiceUnavailable || try > 100 {
					return nil, fmt.Errorf("POST %s/products: %d %s", base, resp.StatusCode, rep.Error)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		return by, nil
	}
	by, err := write(gw(1), "demo-before", 20)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "20 products added through b's gateway %s: %s (the home of %s is a; the gateway sends its writes there)\n", gw(1), byRegion(by), lab.ProductsTable)
	fmt.Fprintf(out, "now: regionctl global move %s --to b\n", lab.ProductsTable)
	var final *traffic.Record
	if err := g.call(ctx, func(c *client.Client) error {
		rec, err := c.StartSwitch(ctx, traffic.Request{Tables: []string{lab.ProductsTable}, To: "b", Reason: "lab demo: the catalogue team moves to b"})
		if err != nil {
			return err
		}
		final, err = (&globals{out: out, errOut: out}).follow(ctx, c, rec.ID)
		return err
	}); err != nil {
		return err
	}
	printRecord(g, final)
	if final.State != traffic.Done {
		return fmt.Errorf("the demo's move of %s: %s", lab.ProductsTable, final.State)
	}
	if by, err = write(gw(0), "demo-after", 20); err != nil {
		return err
	}
	fmt.Fprintf(out, "20 products added through a's gateway: %s\n", byRegion(by))
	regions, closeAll, err := ledger.Regions(st)
	if err != nil {
		return err
	}
	defer closeAll()
	cfg := verify.DefaultConfig()
	res, err := verify.Converge(ctx, cfg, regions, []string{lab.ProductsTable}, 30*time.Second)
	if err != nil {
		return err
	}
	if !res.Equal() {
		return fmt.Errorf("the catalogue differs between regions: %v", res.Differences(5))
	}
	fmt.Fprintf(out, "%s: %d rows, the same in a and b\n", lab.ProductsTable, res.Tables[0].Rows)
	return demoReads(ctx, g, st)
}

// demoReads reads a user of cell b1 (bucket 0-63, moved there in step 5)
// through a's gateway: the history (bounded=2s by the lab's route) is
// served by a's copy, the balance (strong) by b.
func demoReads(ctx context.Context, g *globals, st *lab.State) error {
	var user int64 // the first of step 5's users
	for u := int64(10001); user == 0; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 64 {
			user = u
		}
	}
	gw := st.Regions[0].GatewayURL()
	read := func(path string) (region, served string, err error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw+path, nil)
		req.Header.Set("X-User-Id", fmt.Sprint(user))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", "", fmt.Errorf("GET %s through a's gateway: %s", path, resp.Status)
		}
		return resp.Header.Get("X-App-Region"), resp.Header.Get(gateway.HeaderRead), nil
	}
	// The first bounded reads start regiond's sampling of b's position
	// (it sleeps while none come): until a sample is applied in a, they
	// go to b.
	var region, served string
	var err error
	n := 0
	for n < 20 && served != "local" {
		if region, served, err = read(fmt.Sprintf("/users/%d/requests", user)); err != nil {
			return err
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(g.out, "user %d (region b) read through a's gateway: history (router.read_levels: bounded=2s) served by region %s (%s), read %d times\n", user, region, served, n)
	if region, served, err = read(fmt.Sprintf("/users/%d", user)); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "user %d (region b) read through a's gateway: balance (strong: the default) served by region %s (%s)\n", user, region, served)
	return nil
}
