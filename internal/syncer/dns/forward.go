package dns

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/miekg/dns"
)

// forward asks the upstream resolvers, in order, for the answer to req over network
// ("udp" or "tcp", as the client asked), and returns the first answer that is
// neither SERVFAIL nor REFUSED. All attempts together take at most
// Config.ForwardTimeout, shared among the upstreams not yet asked, so a dead first
// upstream leaves time for the next. When none answers the client gets SERVFAIL.
//
// The answer is passed on as the upstream wrote it, truncation included: a UDP
// client that sees TC asks again over TCP, and that query goes upstream over TCP.
func (s *Server) forward(ctx context.Context, req *dns.Msg, network string) *dns.Msg {
	log := logr.FromContextOrDiscard(ctx)
	if len(s.upstreams) == 0 {
		log.V(1).Info("No upstream resolver; answering SERVFAIL", "name", req.Question[0].Name)
		return fail(req, dns.RcodeServerFailure)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ForwardTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var last *dns.Msg
	var errs []error
	for i, upstream := range s.upstreams {
		left := time.Until(deadline)
		if left <= 0 {
			errs = append(errs, context.DeadlineExceeded)
			break
		}
		c := &dns.Client{Net: network, Timeout: left / time.Duration(len(s.upstreams)-i)}
		q := req.Copy()
		q.Id = dns.Id() // a fresh ID per hop, so an upstream's client cannot be spoofed with ours
		resp, _, err := c.ExchangeContext(ctx, q, upstream)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp.Id = req.Id
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			last = resp
			continue
		}
		return resp
	}
	if last != nil {
		return last
	}
	log.V(1).Info("No upstream resolver answered; answering SERVFAIL", "name", req.Question[0].Name,
		"upstreams", s.upstreams, "err", errors.Join(errs...))
	return fail(req, dns.RcodeServerFailure)
}
