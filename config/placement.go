package config

import "github.com/regionplatform/region/topo"

// StartingOwner returns the region owning each bucket in a fresh
// deployment: the cells in file order, each with an even share of the
// buckets (topo.Spread). Once the routing table lives in etcd, it, not
// this, says who owns a bucket.
func (c *Config) StartingOwner() func(topo.Bucket) string {
	ranges := topo.Spread(c.Buckets, len(c.Cells))
	regions := make([]string, len(c.Cells))
	for i, cell := range c.Cells {
		regions[i] = cell.Region
	}
	return func(b topo.Bucket) string {
		for i, r := range ranges {
			if r.Contains(b) {
				return regions[i]
			}
		}
		return ""
	}
}
