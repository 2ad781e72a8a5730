package demo

import (
	"math/rand/v2"
	"strconv"

	"github.com/liftrescue/liftrescue"
)

// equipment is a category of the special-equipment catalogue (特种设备目录): its kind in the registry
// and the 4-digit category code that starts its 20-digit equipment code.
type equipment struct {
	kind     liftrescue.ElevatorKind
	category string
	// slot numbers the categories so that equipment serials can be counted in a flat array.
	slot int
}

var (
	passengerLift = equipment{liftrescue.KindTraction, "3110", 0}  // 曳引驱动乘客电梯
	freightLift   = equipment{liftrescue.KindTraction, "3120", 1}  // 曳引驱动载货电梯
	hydraulicLift = equipment{liftrescue.KindHydraulic, "3210", 2} // 液压乘客电梯
	escalator     = equipment{liftrescue.KindEscalator, "3310", 3} // 自动扶梯
	movingWalk    = equipment{liftrescue.KindMovingWalk, "3320", 4}
	dumbwaiter    = equipment{liftrescue.KindDumbwaiter, "3430", 5} // 杂物电梯
)

const equipmentSlots = 6

// manufacturer is an elevator maker with the models it sells in the region.
type manufacturer struct {
	name   string
	weight int // market share in the demo city
	// lifts are brand model names of passenger lifts; the other half of the registry records
	// the national type code (TKJ1000/1.75-JXW) instead, see liftModel.
	lifts      []string
	escalators []string
	walks      []string
}

var manufacturers = []manufacturer{
	{"三菱电机上海机电电梯有限公司", 20, []string{"LEHY-III", "LEHY-Pro", "ELENESSA", "HOPE-II"}, []string{"J-S"}, []string{"ZJ-W"}},
	{"日立电梯(中国)有限公司", 18, []string{"HGP", "MCA", "HGE-II", "UAX"}, []string{"VX-2"}, []string{"HAW"}},
	{"通力电梯有限公司", 14, []string{"KONE MonoSpace 500", "KONE MiniSpace", "KONE 3000 MonoSpace"}, []string{"KONE TravelMaster 110"}, []string{"KONE TransitMaster 110"}},
	{"奥的斯电梯(中国)有限公司", 12, []string{"GeN2 Comfort", "GeN2 Life", "OH5000"}, []string{"506NCE"}, []string{"510NPE"}},
	{"康力电梯股份有限公司", 12, []string{"KLK2", "KLK1", "KLJ"}, []string{"KLF"}, []string{"KLW"}},
	{"迅达(中国)电梯有限公司", 8, []string{"Schindler 3300", "Schindler 5500", "Schindler 7000"}, []string{"Schindler 9300AE"}, []string{"Schindler 9500AE"}},
	{"蒂森克虏伯电梯(上海)有限公司", 8, []string{"evolution 1", "synergy 200", "TE-GL"}, []string{"velino"}, []string{"orinoco"}},
	{"快意电梯股份有限公司", 4, []string{"KMK-II", "KMK-VF"}, []string{"KMK-E"}, []string{"KMK-W"}},
	{"广州广日电梯工业有限公司", 4, []string{"GRPS20", "GRPS-II"}, []string{"GRF"}, []string{"GRW"}},
}

// hydraulicMaker is the one maker whose hydraulic lifts the demo fits into old walk-ups.
const hydraulicMaker = 3 // 奥的斯, HydroFit

// branchedMakers are the makers with a branch office in the city (the first seven), which
// maintains some of their own lifts.
const branchedMakers = 7

// pickWeighted returns an index of items with a probability proportional to its weight.
func pickWeighted[T any](rng *rand.Rand, items []T, weight func(T) int) int {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	r := rng.IntN(total)
	for i, it := range items {
		if r < weight(it) {
			return i
		}
		r -= weight(it)
	}
	panic("unreachable")
}

func pickManufacturer(rng *rand.Rand) int {
	return pickWeighted(rng, manufacturers, func(m manufacturer) int { return m.weight })
}

// liftModel returns the model of a piece of equipment of m serving floors storeys. For passenger
// lifts it is half the time the brand name, else the national type code with rated load (kg) and
// speed (m/s), since registries hold both.
func liftModel(rng *rand.Rand, m *manufacturer, eq equipment, floors int) string {
	switch eq {
	case escalator:
		return m.escalators[rng.IntN(len(m.escalators))]
	case movingWalk:
		return m.walks[rng.IntN(len(m.walks))]
	case hydraulicLift:
		return "HydroFit"
	case dumbwaiter:
		return "TWJ200/0.4-JXW"
	case freightLift:
		return "THJ2000/0.5-JXH"
	}
	if rng.IntN(2) == 0 {
		return m.lifts[rng.IntN(len(m.lifts))]
	}
	loads := [...]string{"800", "1000", "1050", "1150", "1350"}
	speed := "1.0"
	switch {
	case floors > 18:
		speed = "2.0"
	case floors > 11:
		speed = "1.75"
	case floors > 7:
		speed = "1.5"
	}
	return "TKJ" + loads[rng.IntN(len(loads))] + "/" + speed + "-JXW"
}

// equipmentCode builds the 20-digit equipment code: category, district, year of manufacture and a
// 6-digit serial.
func equipmentCode(eq equipment, district string, year, serial int) string {
	var b [20]byte
	copy(b[:4], eq.category)
	copy(b[4:10], district)
	y := strconv.Itoa(year)
	copy(b[10:14], y)
	for i := 19; i >= 14; i-- {
		b[i] = byte('0' + serial%10)
		serial /= 10
	}
	return string(b[:])
}
