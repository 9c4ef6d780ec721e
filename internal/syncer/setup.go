package syncer

import "context"

// setup registers the field indexes and every controller with the manager.
func (s *Syncer) setup() error {
	s.recorder = s.mgr.GetEventRecorderFor("kubicle-syncer")
	if err := s.setupIndexes(context.Background()); err != nil {
		return err
	}
	setups := []func() error{s.setupPods, s.setupDependencies, s.setupServices, s.setupNodes,
		func() error { return setupObjects(s, persistentVolumeClaims) },
		func() error { return setupObjects(s, ingresses) },
		func() error { return setupObjects(s, endpointSlices) },
		s.setupEvents,
	}
	for _, f := range setups {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}
