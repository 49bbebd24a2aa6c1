package policy

import (
	"strings"

	"github.com/hoopgw/hoop/internal/yamlfile"
)

// GroupTypos returns an error for each group name used only once in the policy that is
// close to another group name, as yamlfile.DidYouMean judges it: most likely a typo that
// leaves the group's members without the access the rule meant to give. A group is only
// compared with groups used more often, or used once but earlier in file order, so that of
// a close pair the later one is reported, pointing at the other:
//
//	policy.yaml:18: rules[0].groups[0]: group 'enginering' is used only here (did you mean engineering?)
//
// Groups are compared exactly (case-sensitive), so a group that differs from another only
// in case is reported too.
func (p *Policy) GroupTypos() []error {
	count := map[string]int{}
	first := map[string]int{} // index in p.groupRefs of a name's first use
	var names []string        // distinct names in order of first use
	for i, r := range p.groupRefs {
		if count[r.name] == 0 {
			first[r.name] = i
			names = append(names, r.name)
		}
		count[r.name]++
	}
	var errs []error
	for i, r := range p.groupRefs {
		if count[r.name] != 1 || r.name == "*" {
			continue
		}
		var candidates []string
		for _, c := range names {
			if c != r.name && c != "*" && (count[c] > 1 || first[c] < i) {
				candidates = append(candidates, c)
			}
		}
		hint := yamlfile.DidYouMean(r.name, candidates)
		for _, c := range candidates {
			if strings.EqualFold(c, r.name) { // "DBA" is 3 edits from "dba", yet surely a typo
				hint = " (did you mean " + c + "?)"
				break
			}
		}
		if hint != "" {
			errs = append(errs, &Error{File: r.pos.File, Line: r.pos.Line, Field: r.field,
				Msg: "group '" + r.name + "' is used only here" + hint})
		}
	}
	return errs
}
