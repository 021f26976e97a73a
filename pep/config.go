package pep

import (
	"errors"
	"slices"
	"strconv"

	"xmppd/dataform"
)

// Access models (XEP-0060 §4.5) that PEP nodes may have.
const (
	Open      = "open"
	Presence  = "presence"
	Roster    = "roster"
	Whitelist = "whitelist"
)

// Bounds of pubsub#roster_groups_allowed, as the roster bounds a group's
// name.
const (
	maxRosterGroups   = 256
	maxRosterGroupLen = 1023
)

// When the last item is sent (pubsub#send_last_published_item).
const (
	Never               = "never"
	OnSub               = "on_sub"
	OnSubAndPresence    = "on_sub_and_presence"
	defaultMaxItemsNode = 1
)

// NodeConfig is the configuration of a node.
type NodeConfig struct {
	Access        string
	MaxItems      int
	Persist       bool
	SendLast      string
	NotifyRetract bool
	Title         string
	// RosterGroups are the groups of the owner's roster whose contacts
	// may read a node of the Roster access model, sorted, without
	// duplicates (pubsub#roster_groups_allowed, XEP-0060 §4.5).
	RosterGroups []string
	// Subscribers are the JIDs explicitly subscribed to the node, as
	// the store read them with it: not part of its configuration.
	Subscribers []string
}

// equal reports whether c and d are the same configuration.
func (c NodeConfig) equal(d NodeConfig) bool {
	return c.Access == d.Access && c.MaxItems == d.MaxItems && c.Persist == d.Persist &&
		c.SendLast == d.SendLast && c.NotifyRetract == d.NotifyRetract && c.Title == d.Title &&
		slices.Equal(c.RosterGroups, d.RosterGroups)
}

// allows reports whether a contact in the owner's roster groups groups
// is in one of the groups c allows.
func (c NodeConfig) allows(groups []string) bool {
	for _, g := range groups {
		if _, found := slices.BinarySearch(c.RosterGroups, g); found {
			return true
		}
	}
	return false
}

// Defaults is the configuration of a node that a publish creates without
// options, as Prosody's and ejabberd's: seen by presence subscribers,
// the last item only.
func Defaults() NodeConfig {
	return NodeConfig{Access: Presence, MaxItems: defaultMaxItemsNode, Persist: true, SendLast: OnSubAndPresence, NotifyRetract: true}
}

// errUnsupported is an option the service does not have or a value it
// does not take; its text names which.
type errUnsupported struct{ field, value string }

func (e errUnsupported) Error() string {
	return "pubsub: unsupported value '" + e.value + "' of " + e.field
}

// option is one field of a node configuration: how to read it into a
// NodeConfig and how to tell whether a NodeConfig has that value.
type option struct {
	set func(c *NodeConfig, v string, maxItems int) error
	// value is the field's value in c, as a form gives it.
	value func(c NodeConfig) string
	// setAll and values, for a field of several values, replace set
	// and value.
	setAll func(c *NodeConfig, vs []string) error
	values func(c NodeConfig) []string
	typ    string
	// label names the field for people; choices are the values a list
	// field offers (XEP-0004 §3.3).
	label   string
	choices []dataform.Option
}

var options = map[string]option{
	"pubsub#access_model": {
		set: func(c *NodeConfig, v string, _ int) error {
			switch v {
			case Open, Presence, Roster, Whitelist:
				c.Access = v
				return nil
			}
			return errUnsupported{"pubsub#access_model", v}
		},
		value: func(c NodeConfig) string { return c.Access },
		typ:   "list-single",
		label: "Who may see the items",
		choices: []dataform.Option{
			{Label: "Anyone", Value: Open},
			{Label: "Contacts subscribed to my presence", Value: Presence},
			{Label: "Contacts subscribed to my presence in the groups below", Value: Roster},
			{Label: "Only me", Value: Whitelist},
		},
	},
	"pubsub#roster_groups_allowed": {
		setAll: setRosterGroups,
		values: func(c NodeConfig) []string { return c.RosterGroups },
		typ:    "list-multi",
		label:  "Roster groups allowed to see the items",
	},
	"pubsub#max_items": {
		set: func(c *NodeConfig, v string, maxItems int) error {
			if v == "max" {
				c.MaxItems = maxItems
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxItems {
				return errUnsupported{"pubsub#max_items", v}
			}
			c.MaxItems = n
			return nil
		},
		value: func(c NodeConfig) string { return strconv.Itoa(c.MaxItems) },
		typ:   "text-single",
		label: "How many items to keep",
	},
	"pubsub#persist_items": {
		set:   boolOption("pubsub#persist_items", func(c *NodeConfig) *bool { return &c.Persist }),
		value: func(c NodeConfig) string { return strconv.FormatBool(c.Persist) },
		typ:   "boolean",
		label: "Keep items",
	},
	"pubsub#notify_retract": {
		set:   boolOption("pubsub#notify_retract", func(c *NodeConfig) *bool { return &c.NotifyRetract }),
		value: func(c NodeConfig) string { return strconv.FormatBool(c.NotifyRetract) },
		typ:   "boolean",
		label: "Notify when an item is retracted",
	},
	"pubsub#send_last_published_item": {
		set: func(c *NodeConfig, v string, _ int) error {
			switch v {
			case Never, OnSub, OnSubAndPresence:
				c.SendLast = v
				return nil
			}
			return errUnsupported{"pubsub#send_last_published_item", v}
		},
		value: func(c NodeConfig) string { return c.SendLast },
		typ:   "list-single",
		label: "When to send the last item",
		choices: []dataform.Option{
			{Label: "Never", Value: Never},
			{Label: "When a contact subscribes", Value: OnSub},
			{Label: "When a contact subscribes or comes online", Value: OnSubAndPresence},
		},
	},
	"pubsub#title": {
		set:   func(c *NodeConfig, v string, _ int) error { c.Title = v; return nil },
		value: func(c NodeConfig) string { return c.Title },
		typ:   "text-single",
		label: "Title",
	},
	// Always true: every node notifies and carries its payloads.
	"pubsub#deliver_notifications": {set: mustBeTrue("pubsub#deliver_notifications"), value: alwaysTrue, typ: "boolean", label: "Deliver notifications"},
	"pubsub#deliver_payloads":      {set: mustBeTrue("pubsub#deliver_payloads"), value: alwaysTrue, typ: "boolean", label: "Deliver payloads with notifications"},
}

// optionOrder is the order of the fields in a configuration form.
var optionOrder = []string{
	"pubsub#title", "pubsub#access_model", "pubsub#roster_groups_allowed", "pubsub#max_items", "pubsub#persist_items",
	"pubsub#send_last_published_item", "pubsub#notify_retract",
	"pubsub#deliver_notifications", "pubsub#deliver_payloads",
}

func alwaysTrue(NodeConfig) string { return "true" }

// setRosterGroups sets the groups of pubsub#roster_groups_allowed,
// sorted and without duplicates.
func setRosterGroups(c *NodeConfig, vs []string) error {
	groups := make([]string, 0, len(vs))
	for _, g := range vs {
		if g == "" || len(g) > maxRosterGroupLen {
			return errUnsupported{"pubsub#roster_groups_allowed", g}
		}
		groups = append(groups, g)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if len(groups) > maxRosterGroups {
		return errUnsupported{"pubsub#roster_groups_allowed", strconv.Itoa(len(groups)) + " groups"}
	}
	c.RosterGroups = groups
	return nil
}

func boolOption(field string, at func(*NodeConfig) *bool) func(*NodeConfig, string, int) error {
	return func(c *NodeConfig, v string, _ int) error {
		b, ok := dataform.ParseBool(v)
		if !ok {
			return errUnsupported{field, v}
		}
		*at(c) = b
		return nil
	}
}

func mustBeTrue(field string) func(*NodeConfig, string, int) error {
	return func(_ *NodeConfig, v string, _ int) error {
		if b, ok := dataform.ParseBool(v); !ok || !b {
			return errUnsupported{field, v}
		}
		return nil
	}
}

// apply sets the fields of the form f on c. A field the service does not
// know, or a value it does not take, is an errUnsupported.
func apply(c *NodeConfig, f dataform.Form, maxItems int) error {
	for _, fd := range f.Fields {
		if fd.Var == "FORM_TYPE" {
			continue
		}
		o, ok := options[fd.Var]
		if !ok {
			return errUnsupported{fd.Var, ""}
		}
		if o.setAll != nil {
			if err := o.setAll(c, fd.Values); err != nil {
				return err
			}
			continue
		}
		v := ""
		if len(fd.Values) > 0 {
			v = fd.Values[0]
		}
		if err := o.set(c, v, maxItems); err != nil {
			return err
		}
	}
	return nil
}

// within returns c as the service applies it when a node keeps at most
// maxItems items: a node configured for more, before the operator
// lowered pep.max_items, keeps maxItems.
func (c NodeConfig) within(maxItems int) NodeConfig {
	c.MaxItems = min(c.MaxItems, maxItems)
	return c
}

// satisfies reports whether the node configuration c has every value the
// publish options f ask for (XEP-0060 §7.1.5). Options the service does
// not know are not met.
func satisfies(c NodeConfig, f dataform.Form, maxItems int) error {
	c = c.within(maxItems)
	want := c
	if err := apply(&want, f, maxItems); err != nil {
		return errors.Join(ErrPrecondition, err)
	}
	if !want.equal(c) {
		return ErrPrecondition
	}
	return nil
}

// form returns c as a node configuration form of type typ. A form to
// fill ("form") has labels and offers the choices of its list fields,
// which clients need to show it (XEP-0004 §3.3): of
// pubsub#roster_groups_allowed, the owner's roster groups groups and
// those c allows; a submitted one has neither.
func (c NodeConfig) form(typ string, groups []string) dataform.Form {
	f := dataform.Form{Type: typ, Fields: []dataform.Field{{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSConfig}}}}
	for _, name := range optionOrder {
		o := options[name]
		fd := dataform.Field{Var: name, Type: o.typ}
		if o.values != nil {
			fd.Values = o.values(c)
		} else {
			fd.Values = []string{o.value(c)}
		}
		if typ == "form" {
			fd.Label, fd.Options = o.label, o.choices
			if name == "pubsub#roster_groups_allowed" {
				fd.Options = groupChoices(groups, c.RosterGroups)
			}
		}
		f.Fields = append(f.Fields, fd)
	}
	return f
}

// groupChoices returns the roster groups a form offers: those of the
// owner's roster and those a node allows, sorted.
func groupChoices(roster, allowed []string) []dataform.Option {
	groups := slices.Concat(roster, allowed)
	slices.Sort(groups)
	var choices []dataform.Option
	for _, g := range slices.Compact(groups) {
		choices = append(choices, dataform.Option{Value: g})
	}
	return choices
}

// Form returns c as a submitted node configuration form, as exports
// hold it (XEP-0227) and ConfigFromForm reads it.
func (c NodeConfig) Form() dataform.Form { return c.form("submit", nil) }

// ConfigFromForm returns the configuration a node configuration form
// describes, over the defaults, for data imported from another server:
// fields the service does not have, or values it does not take, are left
// out and named in ignored.
func ConfigFromForm(f dataform.Form, maxItems int) (cfg NodeConfig, ignored []string) {
	cfg = Defaults()
	for _, fd := range f.Fields {
		if fd.Var == "FORM_TYPE" {
			continue
		}
		one := dataform.Form{Fields: []dataform.Field{fd}}
		if err := apply(&cfg, one, maxItems); err != nil {
			ignored = append(ignored, fd.Var)
		}
	}
	return cfg, ignored
}
