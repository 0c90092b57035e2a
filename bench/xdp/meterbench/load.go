package meterbench

// Programs are the loaded comparison programs and their maps.
type Programs = meterObjects

// Load loads the programs; the caller closes them.
func Load() (*Programs, error) {
	var p Programs
	if err := loadMeterObjects(&p, nil); err != nil {
		return nil, err
	}
	return &p, nil
}
