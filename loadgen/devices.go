package loadgen

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Device is one simulated tracker and the vehicle it is fitted to.
type Device struct {
	ID     string // "199" and 8 digits: a JT/T 808 terminal phone number, valid in every protocol
	Secret string // the device secret: the HTTP token, the JT/T 808 auth code
	Plate  string // "LG" and 5 digits
}

// DeviceID returns the id of the i-th device (from 0): 19900000001, 19900000002, … Eleven digits,
// like the mobile number a JT/T 808 terminal's header carries.
func DeviceID(i int) string {
	return "199" + pad(i+1, 8)
}

// Plate returns the plate of the i-th device's vehicle: LG00001, LG00002, …
func Plate(i int) string { return "LG" + pad(i+1, 5) }

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// DeviceSecret returns the secret of a device: 16 hex digits of HMAC-SHA256(seed, id). Runs with
// the same seed agree on the secrets, so provisioning once serves every later run.
func DeviceSecret(seed, deviceID string) string {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte(deviceID))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Devices returns the first n devices with their secrets.
func Devices(n int, seed string) []Device {
	ds := make([]Device, n)
	for i := range ds {
		id := DeviceID(i)
		ds[i] = Device{ID: id, Secret: DeviceSecret(seed, id), Plate: Plate(i)}
	}
	return ds
}

// Area is where the devices move: a bounding box and, when it comes from a district, the outline
// that start points are drawn inside.
type Area struct {
	District string         `json:"district,omitempty"` // the district's code, when the area is one
	MinLon   float64        `json:"min_lon"`
	MinLat   float64        `json:"min_lat"`
	MaxLon   float64        `json:"max_lon"`
	MaxLat   float64        `json:"max_lat"`
	outline  [][][2]float64 // rings (lon, lat), even-odd; nil for a box
}

// CenterArea is the square of radiusM around (lon, lat).
func CenterArea(lon, lat, radiusM float64) Area {
	dLat := radiusM / metresPerDegree
	dLon := radiusM / (metresPerDegree * math.Cos(lat*math.Pi/180))
	return Area{MinLon: lon - dLon, MinLat: lat - dLat, MaxLon: lon + dLon, MaxLat: lat + dLat}
}

// districtArea is the bounding box of a district's outline.
func districtArea(d *liftrescue.District) (Area, bool) {
	a := Area{District: d.Code, MinLon: 180, MinLat: 90, MaxLon: -180, MaxLat: -90}
	for _, poly := range d.Outline {
		for _, ring := range poly {
			r := make([][2]float64, len(ring))
			for i, p := range ring {
				r[i] = [2]float64{p[0], p[1]}
				a.MinLon, a.MaxLon = min(a.MinLon, p[0]), max(a.MaxLon, p[0])
				a.MinLat, a.MaxLat = min(a.MinLat, p[1]), max(a.MaxLat, p[1])
			}
			a.outline = append(a.outline, r)
		}
	}
	return a, a.MinLon < a.MaxLon && a.MinLat < a.MaxLat
}

func (a *Area) center() (lon, lat float64) {
	return (a.MinLon + a.MaxLon) / 2, (a.MinLat + a.MaxLat) / 2
}

func (a *Area) inBox(lon, lat float64) bool {
	return lon >= a.MinLon && lon <= a.MaxLon && lat >= a.MinLat && lat <= a.MaxLat
}

// inside reports whether the point is in the outline (in the box when there is none).
func (a *Area) inside(lon, lat float64) bool {
	if !a.inBox(lon, lat) {
		return false
	}
	if a.outline == nil {
		return true
	}
	in := false
	for _, r := range a.outline {
		for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
			if (r[i][1] > lat) != (r[j][1] > lat) &&
				lon < (r[j][0]-r[i][0])*(lat-r[i][1])/(r[j][1]-r[i][1])+r[i][0] {
				in = !in
			}
		}
	}
	return in
}

// start draws a start point in the area.
func (a *Area) start(rng *rand.Rand) (lon, lat float64) {
	for range 50 {
		lon = a.MinLon + rng.Float64()*(a.MaxLon-a.MinLon)
		lat = a.MinLat + rng.Float64()*(a.MaxLat-a.MinLat)
		if a.inside(lon, lat) {
			return lon, lat
		}
	}
	return a.center()
}

const metresPerDegree = 111_320

// walker moves one device: a random walk at 20–60 km/h that turns back towards the middle of
// the area when it leaves it. Its moves are computed from the fix times it is given, so that
// consecutive fixes are never farther apart than 60 km/h allows and the server's jump filter
// has nothing to object to.
type walker struct {
	lon, lat   float64
	heading    float64 // degrees clockwise from north
	speed      float64 // km/h
	odometer   float64 // metres
	altitude   float64
	t          time.Time // of the latest fix
	cosLat     float64
	cLon, cLat float64 // where to head back to
}

func newWalker(a *Area, rng *rand.Rand, now time.Time) walker {
	lon, lat := a.start(rng)
	cLon, cLat := a.center()
	return walker{lon: lon, lat: lat, heading: rng.Float64() * 360, speed: 20 + rng.Float64()*40,
		altitude: 40 + rng.Float64()*40, t: now, cosLat: math.Cos(lat * math.Pi / 180), cLon: cLon, cLat: cLat,
		odometer: float64(rng.IntN(100_000_000))}
}

// step moves the device to where it is at t, which must not be before its latest fix.
func (w *walker) step(t time.Time, a *Area, rng *rand.Rand) {
	dt := t.Sub(w.t).Seconds()
	if dt <= 0 {
		return
	}
	w.t = t
	dt = min(dt, 10)
	r := rng.Uint64()
	// Turn and change speed a little each step, more the longer the step.
	turn := (float64(r&0xffff)/0xffff - 0.5) * 40 * min(1, dt+0.1)
	accel := (float64(r>>16&0xffff)/0xffff - 0.5) * 4 * min(1, dt+0.1)
	w.heading = math.Mod(w.heading+turn+360, 360)
	w.speed = min(60, max(20, w.speed+accel))
	d := w.speed / 3.6 * dt
	s, c := math.Sincos(w.heading * math.Pi / 180)
	lat := w.lat + d*c/metresPerDegree
	lon := w.lon + d*s/(metresPerDegree*w.cosLat)
	if !a.inBox(lon, lat) {
		// Head back towards the middle, give or take 30°, and stay put this step.
		w.heading = math.Mod(math.Atan2((w.cLon-w.lon)*w.cosLat, w.cLat-w.lat)*180/math.Pi+
			(float64(r>>32&0xffff)/0xffff-0.5)*60+360, 360)
		return
	}
	w.lon, w.lat = lon, lat
	w.odometer += d
}

// ---------------------------------------------------------------------------------------------
// Append-encoding of numbers and times without fmt.

var pow10 = [...]int64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000}

// appendFixed appends v with dec decimals (at most 7).
func appendFixed(b []byte, v float64, dec int) []byte {
	scale := pow10[dec]
	n := int64(math.Round(v * float64(scale)))
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/scale, 10)
	if dec == 0 {
		return b
	}
	b = append(b, '.')
	frac := n % scale
	for p := scale / 10; p > 1 && frac < p; p /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10)
}

// timeFormatter appends RFC 3339 times with microseconds in UTC, formatting the part up to the
// seconds once per second.
type timeFormatter struct {
	sec    int64
	prefix []byte // 2006-01-02T15:04:05
}

func (tf *timeFormatter) append(b []byte, t time.Time) []byte {
	t = t.UTC()
	if s := t.Unix(); s != tf.sec || tf.prefix == nil {
		tf.sec = s
		tf.prefix = t.AppendFormat(tf.prefix[:0], "2006-01-02T15:04:05")
	}
	b = append(b, tf.prefix...)
	us := int64(t.Nanosecond() / 1000)
	b = append(b, '.')
	for p := int64(100_000); p > 1 && us < p; p /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, us, 10)
	return append(b, 'Z')
}
