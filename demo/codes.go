package demo

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// rescueCodes hands out the rescue codes on the signs. Real codes are issued in no visible order,
// and a caller who misreads a digit should not land on the lift next door, so the i-th elevator
// gets a seeded pseudo-random permutation of i: a 4-round Feistel network over the smallest power
// of two above the code space, cycle-walked until the result falls inside it. A Feistel network is
// a bijection whatever its round function, so codes never collide and need no table.
type rescueCodes struct {
	first, count uint64 // codes run from first to first+count-1, all with the same digits
	halfBits     uint
	keys         [4]uint64
}

func newRescueCodes(elevators int, seed uint64) rescueCodes {
	r := rescueCodes{first: 100_000, halfBits: 10} // 2^20 > 900,000 six-digit codes
	if elevators > 900_000 {
		r.first, r.halfBits = 1_000_000, 12 // 2^24 > 9,000,000 seven-digit codes
	}
	r.count = 9 * r.first
	for k := range r.keys {
		seed = mix64(seed + 0x9E3779B97F4A7C15)
		r.keys[k] = seed
	}
	return r
}

// code returns the rescue code of the i-th elevator (0-based, below count).
func (r rescueCodes) code(i int) string { return strconv.FormatUint(r.first+r.offset(i), 10) }

// offset returns where the i-th code lies in the code space.
func (r rescueCodes) offset(i int) uint64 {
	x := uint64(i)
	for {
		if x = r.permute(x); x < r.count {
			return x
		}
	}
}

func (r rescueCodes) permute(x uint64) uint64 {
	mask := uint64(1)<<r.halfBits - 1
	left, right := x>>r.halfBits, x&mask
	for _, k := range r.keys {
		left, right = right, left^(mix64(right^k)&mask)
	}
	return left<<r.halfBits | right
}

// mix64 is the SplitMix64 finaliser: a cheap, well-spread hash of a 64-bit value.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// The unified social credit code (统一社会信用代码, GB 32100-2015) has 18 characters: the
// registering authority and the kind of body (91 a company, 11 a government body, 12 a public
// institution), the 6-digit administrative code, the 9-character organisation code (GB 11714: 8
// characters and a check character), and a check character over the first 17.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY" // no I, O, S, V, Z

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccCheck returns the 18th character of a unified social credit code from its first 17.
func usccCheck(first17 string) byte {
	sum := 0
	for i := range 17 {
		sum += strings.IndexByte(usccAlphabet, first17[i]) * usccWeights[i]
	}
	return usccAlphabet[(31-sum%31)%31]
}

// orgCodeCheck returns the check character of an 8-character organisation code (GB 11714).
func orgCodeCheck(body string) byte {
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 8 {
		v := int(body[i] - '0')
		if body[i] >= 'A' {
			v = int(body[i]-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// newSocialCreditCode returns a well-formed unified social credit code. Bodies registered since
// 2015 have organisation codes starting "MA" followed by letters and digits; older ones have eight
// digits.
func newSocialCreditCode(rng *rand.Rand, kind, adminCode string, recent bool) string {
	var body [8]byte
	if recent {
		copy(body[:], "MA3")
		for i := 3; i < 8; i++ {
			body[i] = usccAlphabet[rng.IntN(len(usccAlphabet))]
		}
	} else {
		body[0] = byte('1' + rng.IntN(7))
		for i := 1; i < 8; i++ {
			body[i] = byte('0' + rng.IntN(10))
		}
	}
	first17 := kind + adminCode + string(body[:]) + string(orgCodeCheck(string(body[:])))
	return first17 + string(usccCheck(first17))
}

// plateLetters leave out I and O, which read as 1 and 0, as Chinese plates do.
const plateLetters = "ABCDEFGHJKLMNPQRSTUVWXYZ"

// newPlate returns a Zaozhuang plate: 鲁D and five letters or digits, at most two of them letters.
func newPlate(rng *rand.Rand) string {
	b := []byte("鲁D")
	letters := 0
	for range 5 {
		if letters < 2 && rng.IntN(4) == 0 {
			b = append(b, plateLetters[rng.IntN(len(plateLetters))])
			letters++
		} else {
			b = append(b, byte('0'+rng.IntN(10)))
		}
	}
	return string(b)
}

// newMobile returns an 11-digit mainland mobile number.
func newMobile(rng *rand.Rand) string {
	return mobilePrefixes[rng.IntN(len(mobilePrefixes))] + digits(rng, 8)
}

// newDeviceID returns a JT/T 808 terminal phone number: the tracker SIM's 11-digit number with a
// leading zero to fill the 12 digits of the protocol's BCD field.
func newDeviceID(rng *rand.Rand) string { return "0" + newMobile(rng) }

// newLandline returns a Zaozhuang fixed-line number; the first local digit follows the district.
func newLandline(rng *rand.Rand, prefix byte) string {
	return "0632-" + string(prefix) + digits(rng, 6)
}

func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func newPersonName(rng *rand.Rand) string {
	return surnames[rng.IntN(len(surnames))] + givenNames[rng.IntN(len(givenNames))]
}
