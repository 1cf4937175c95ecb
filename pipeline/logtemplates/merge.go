package logtemplates

// merged maps every cluster (by creation order) to the cluster whose
// template and id its lines take.
func (m *Miner) merged() []*Cluster {
	rep := make([]*Cluster, len(m.clusters))
	copy(rep, m.clusters)
	return rep
}
