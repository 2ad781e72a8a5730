package demo

// Word pools for generated names. Organisation names combine a place prefix, a trade name and a
// legal-form suffix the way Chinese company names do (枣庄市 + 恒信 + 电梯工程有限公司).

// tradeNames are the 字号 of locally registered companies.
var tradeNames = []string{
	"鑫源", "恒信", "安泰", "和顺", "龙城", "鲁南", "万家", "嘉和", "瑞祥", "金诚", "华晨", "宏远",
	"盛世", "泰和", "佳美", "永安", "福兴", "汇通", "兴隆", "鸿运", "润泽", "德馨", "明珠", "锦华",
	"新城", "绿洲", "家和", "乐居", "安居", "瑞丰", "中兴", "金泰", "昌盛", "长城", "天润", "中正",
	"君安", "鼎盛", "凯源", "福瑞", "宏泰", "舜和", "恒润", "广厦", "华府", "东方", "同创", "立信",
	"丰泽", "康居", "诚信", "惠民", "顺达", "金阳", "宏达", "嘉禾", "荣盛", "怡和", "翰林", "众诚",
	"天元", "文昌", "信和", "祥和", "盛和", "兴业", "通达", "恒安", "捷达", "奥捷", "腾达", "永升",
}

var propertySuffixes = []string{"物业管理有限公司", "物业服务有限公司", "物业管理服务有限公司"}

var maintenanceSuffixes = []string{
	"电梯工程有限公司", "电梯安装维修有限公司", "电梯有限公司", "机电设备有限公司", "电梯销售安装有限公司",
}

// Volunteer units are maintenance-like companies that keep dedicated rescue vans for the grid.
var volunteerSuffixes = []string{"电梯应急救援服务有限公司", "电梯救援服务有限公司", "电梯工程技术有限公司"}

// nationalPropertyBranches are branch offices of national property companies; they manage
// compounds in the three big districts only.
var nationalPropertyBranches = []string{
	"万科物业服务有限公司", "碧桂园生活服务集团股份有限公司", "绿城物业服务集团有限公司",
	"保利物业服务股份有限公司", "中海物业管理有限公司", "长城物业集团股份有限公司",
}

// compoundNames are residential compound (小区) names found in any Chinese city.
var compoundNames = []string{
	"阳光花园", "龙城御园", "金色家园", "御景华府", "锦绣江南", "书香门第", "翡翠城", "帝景苑",
	"万象新城", "水岸名都", "龙城国际", "凤凰城", "荷花园", "中央公馆", "和谐家园", "建华小区",
	"文化苑", "学府花园", "世纪华庭", "丽景嘉园", "金桥小区", "铁路小区", "东湖花园", "紫金城",
	"香榭丽舍", "盛世华城", "幸福里", "桃源居", "馨园小区", "名仕豪庭", "锦华苑", "民生小区",
	"福泰家园", "碧水蓝天", "城市之光", "山水华庭", "泰和园", "新华小区", "怡景湾", "枫林绿洲",
}

var surnames = []string{
	"王", "张", "李", "刘", "陈", "杨", "孙", "赵", "徐", "马", "孔", "高", "朱", "郭", "胡", "田",
	"周", "吴", "宋", "韩", "颜", "曹", "邵", "褚", "姜", "贾", "侯", "葛", "闫", "种",
}

var givenNames = []string{
	"伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "静", "丽", "敏", "燕", "娜", "霞",
	"鹏", "飞", "建国", "秀英", "志强", "海燕", "文博", "晓东", "春梅", "国庆", "立新", "红梅",
	"玉兰", "德胜", "凤英", "庆华", "兆峰", "广成", "传军", "允超", "士杰", "新民", "彦伟", "雪莲",
}

// Roles of contacts, by the kind of organisation they work for.
var (
	userUnitRoles    = []string{"物业经理", "电梯安全管理员", "客服主管"}
	institutionRoles = []string{"后勤负责人", "电梯安全管理员"}
	maintenanceRoles = []string{"经理", "技术负责人", "值班调度"}
	volunteerRoles   = []string{"队长", "值班调度"}
	fireRoles        = []string{"站长", "值班室"}
	regulatorRoles   = []string{"特种设备安全监察科", "值班室"}
)

var teamNames = []string{"一队", "二队", "三队"}

// mobilePrefixes are the first three digits of Chinese mobile numbers of all three carriers.
var mobilePrefixes = []string{
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
	"153", "155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186",
	"187", "188", "189", "199",
}

// residentialHeights are the storey counts Chinese residential buildings cluster at: 6–7 storey
// walk-ups with a retrofitted lift, 11-storey 小高层, 17–18 storeys, and 26–33 storey towers.
var residentialHeights = []height{
	{6, 8}, {7, 6}, {9, 3}, {11, 18}, {12, 4}, {15, 6}, {17, 10}, {18, 12}, {24, 6}, {26, 8},
	{28, 5}, {30, 5}, {32, 4}, {33, 5},
}

type height struct{ floors, weight int }
