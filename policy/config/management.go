package config

// Management is the operators' listener: metrics, health, status and the
// management API. It must never share an address with a data listener.
type Management struct {
	Address string `mapstructure:"address"`
}

func (m *Management) applyDefaults() {
	setString(&m.Address, DefaultManagementAddress)
}

func (m *Management) validate(v *validator) {
	v.hostPort("management.address", m.Address)
}
