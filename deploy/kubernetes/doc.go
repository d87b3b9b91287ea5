// Package kubernetes holds racelab's Kubernetes manifests (the *.yaml
// files beside this one; see README.md). It has no code: its tests decode
// every manifest strictly into the Kubernetes API types and hold the
// manifests to the racelab binary they deploy (every flag and RACELAB_*
// variable they use must exist) and to each other (selectors, ports, the
// autoscaler's target, the network policy).
package kubernetes
