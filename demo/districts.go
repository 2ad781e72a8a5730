package demo

// districtSpec describes one district of the demo city: where its urban core is, how big it is, and
// which organisations and institutions it has. The figures are rough stand-ins for the real
// districts of Zaozhuang, sized so that the city-wide totals land on the counts a demo needs.
type districtSpec struct {
	code     string // administrative division code
	name     string
	lon, lat float64 // centre of the urban core
	rural    bool

	// elevatorWeight is the district's share of residential elevators, roughly by urban population.
	elevatorWeight int
	// boundaryWeight (km²) moves the district's boundaries away from its centre: the outlines are a
	// power diagram (a weighted Voronoi diagram), so that Tengzhou and Shanting come out the largest,
	// as they are.
	boundaryWeight float64
	// coreRadius (metres) is how far the street grid reaches from the centre.
	coreRadius float64
	// gridBearing (degrees, counter-clockwise from east) turns the street grid; real cities are
	// rarely aligned to the compass.
	gridBearing float64
	streets     int
	// streetNames are the names the grid draws from; there must be at least streets of them.
	streetNames []string
	// localCompounds are residential compound names typical of the district, added to the common
	// ones.
	localCompounds []string

	// town starts the names of the district's branch offices (枣庄分公司), and namePrefixes those of
	// its local companies.
	town         string
	namePrefixes []string
	// registeredAt is the administrative code in the unified social credit codes of companies
	// registered in the district: county-level Tengzhou registers its own, the urban districts
	// mostly register with the city.
	registeredAt string
	// landlinePrefix is the first digit of local 0632 numbers in the district.
	landlinePrefix byte

	maintenance    int // local maintenance companies
	property       int // property management companies
	fireStations   int
	volunteerTeams int // teams (and vehicles) of volunteer rescue units
	hospitals      []string
	schools        []string
	malls          []mall
}

// mall is a shopping centre: the name on its sign and the company that runs it (the user unit of
// its escalators).
type mall struct{ site, operator string }

var districtSpecs = []districtSpec{
	{
		code: "370402", name: "市中区", lon: 117.556, lat: 34.864,
		elevatorWeight: 24, coreRadius: 4200, gridBearing: 3, streets: 16,
		streetNames: []string{
			"光明路", "君山路", "建设路", "青檀路", "文化路", "振兴路", "解放路", "龙头路", "华山路",
			"泰山路", "西昌路", "立新路", "胜利路", "新华街", "人民路", "和平路", "鑫昌路", "东升路",
		},
		localCompounds: []string{"君山花园", "青檀小区", "枣矿新村", "龙头小区", "光明花园"},
		town:           "枣庄", namePrefixes: []string{"枣庄市", "枣庄", "山东", "枣庄市市中区"},
		registeredAt: "370400", landlinePrefix: '3',
		maintenance: 13, property: 64, fireStations: 3, volunteerTeams: 10,
		hospitals: []string{"枣庄市立医院", "枣庄市中医医院", "枣庄市妇幼保健院"},
		schools:   []string{"枣庄市第八中学", "枣庄市第十五中学", "枣庄市实验学校", "市中区实验小学"},
		malls: []mall{
			{"贵诚购物中心", "枣庄贵诚购物中心有限公司"},
			{"银座商城", "枣庄银座商城有限公司"},
			{"万达广场", "枣庄万达广场商业管理有限公司"},
			{"大润发", "枣庄大润发商业有限公司"},
		},
	},
	{
		code: "370403", name: "薛城区", lon: 117.263, lat: 34.795,
		elevatorWeight: 19, coreRadius: 4200, gridBearing: -6, streets: 14,
		streetNames: []string{
			"长白山路", "黄河路", "嘉陵江路", "泰山路", "华山路", "珠江路", "永兴路", "燕山路", "祁连山路",
			"武夷山路", "黄山路", "衡山路", "沿河路", "昆仑山路", "太行山路", "复元路",
		},
		localCompounds: []string{"新城花园", "凤鸣湖畔", "奚仲小区", "临山花园"},
		town:           "枣庄", namePrefixes: []string{"枣庄市", "枣庄", "山东", "枣庄市薛城区", "枣庄新城"},
		registeredAt: "370403", landlinePrefix: '4',
		maintenance: 10, property: 47, fireStations: 2, volunteerTeams: 7,
		hospitals: []string{"薛城区人民医院", "枣庄市精神卫生中心"},
		schools:   []string{"枣庄市第二十八中学", "枣庄市第四十一中学", "薛城区实验小学"},
		malls: []mall{
			{"吾悦广场", "枣庄新城吾悦商业管理有限公司"},
			{"银座购物广场", "枣庄银座商城有限公司薛城分公司"},
		},
	},
	{
		code: "370404", name: "峄城区", lon: 117.590, lat: 34.773,
		elevatorWeight: 10, coreRadius: 2800, gridBearing: 8, streets: 9,
		streetNames:    []string{"坛山路", "峨山路", "承水路", "榴园路", "青檀路", "文化路", "建设路", "古邵路", "兴华路", "仁和路"},
		localCompounds: []string{"榴园小区", "坛山花园", "承水苑"},
		town:           "枣庄", namePrefixes: []string{"枣庄市", "枣庄", "峄城区", "枣庄市峄城区"},
		registeredAt: "370404", landlinePrefix: '7',
		maintenance: 6, property: 28, fireStations: 1, volunteerTeams: 5,
		hospitals: []string{"峄城区人民医院"},
		schools:   []string{"枣庄市第十八中学", "峄城区实验小学"},
		malls:     []mall{{"贵诚购物中心峄城店", "枣庄贵诚购物中心有限公司峄城分公司"}},
	},
	{
		code: "370405", name: "台儿庄区", lon: 117.734, lat: 34.562,
		boundaryWeight: 100, elevatorWeight: 8, coreRadius: 2600, gridBearing: -4, streets: 8,
		streetNames:    []string{"运河路", "金光路", "兴中路", "华兴路", "文化路", "长安路", "箭道街", "月河街", "台庄路"},
		localCompounds: []string{"运河人家", "古城花园", "月河小区"},
		town:           "枣庄", namePrefixes: []string{"枣庄市", "台儿庄", "台儿庄区", "枣庄市台儿庄区"},
		registeredAt: "370405", landlinePrefix: '6',
		maintenance: 4, property: 22, fireStations: 1, volunteerTeams: 4,
		hospitals: []string{"台儿庄区人民医院"},
		schools:   []string{"枣庄市第三十六中学", "台儿庄区实验小学"},
		malls:     []mall{{"运河商城", "台儿庄运河商业管理有限公司"}},
	},
	{
		code: "370406", name: "山亭区", lon: 117.461, lat: 35.099, rural: true,
		boundaryWeight: 250, elevatorWeight: 5, coreRadius: 2000, gridBearing: 12, streets: 6,
		streetNames:    []string{"府前路", "翼云路", "振兴路", "文化路", "北京路", "山城路", "东方路"},
		localCompounds: []string{"翼云小区", "山城花园"},
		town:           "枣庄", namePrefixes: []string{"枣庄市", "山亭", "山亭区", "枣庄市山亭区"},
		registeredAt: "370406", landlinePrefix: '8',
		maintenance: 4, property: 16, fireStations: 1, volunteerTeams: 3,
		hospitals: []string{"山亭区人民医院"},
		schools:   []string{"枣庄市第二十四中学", "山亭区实验小学"},
		malls:     []mall{{"银座超市山亭店", "枣庄银座商城有限公司山亭分公司"}},
	},
	{
		code: "370481", name: "滕州市", lon: 117.165, lat: 35.084,
		boundaryWeight: 500, elevatorWeight: 34, coreRadius: 5000, gridBearing: -2, streets: 18,
		streetNames: []string{
			"善国路", "荆河路", "北辛路", "学院路", "平行路", "民生路", "腾飞路", "龙泉路", "杏坛路",
			"塔寺路", "府前路", "大同路", "解放路", "墨子路", "鲁班路", "通盛路", "科圣路", "文化路",
		},
		localCompounds: []string{"荆河花园", "善国苑", "北辛家园", "墨子花园", "鲁班小区"},
		town:           "滕州", namePrefixes: []string{"滕州市", "滕州", "山东"},
		registeredAt: "370481", landlinePrefix: '5',
		maintenance: 16, property: 83, fireStations: 3, volunteerTeams: 11,
		hospitals: []string{"滕州市中心人民医院", "滕州市中医医院", "滕州市妇幼保健院"},
		schools:   []string{"滕州市第一中学", "滕州市第二中学", "滕州市北辛中学", "滕州市实验小学"},
		malls: []mall{
			{"银座商城", "滕州银座商城有限公司"},
			{"万达广场", "滕州万达广场商业管理有限公司"},
			{"贵诚购物中心", "滕州贵诚购物中心有限公司"},
		},
	},
}

// cityOutline is the demo city's boundary (lon, lat), convex and counter-clockwise, around
// 116.95–117.85 E, 34.45–35.35 N, cut diagonally in the south-west where the real city ends at the
// lakes. The district outlines partition it.
var cityOutline = [][2]float64{
	{116.95, 34.90}, {117.08, 34.68}, {117.28, 34.52}, {117.55, 34.45}, {117.75, 34.45},
	{117.85, 34.58}, {117.82, 34.80}, {117.72, 35.08}, {117.58, 35.28}, {117.38, 35.35},
	{117.14, 35.33}, {116.98, 35.20},
}
