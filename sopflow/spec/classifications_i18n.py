"""French and Arabic titles of the two classifications of ``classifications.py``, as plain
data, for the levels the statistics and the request pages show most.

Covered: the 10 major groups (one digit) and the 43 sub-major groups (two digits) of
ISCO-08, and the 21 sections (letters) of ISIC Rev.4, in French and in Arabic. Not covered:
the minor and unit groups of ISCO-08 and the divisions and groups of ISIC Rev.4; for them
``classifications.title`` gives the English title and says so (the pages mark it
``lang="en"``, as they mark a measure's definition that has no translation).

Sources:
- French, ISCO-08: Bureau international du Travail, *Classification internationale type
  des professions, CITP-08* (Genève, 2012), structure table (grands groupes et
  sous-grands groupes), spellings as there ("Manœuvres", "Éboueurs").
- French, ISIC Rev.4: Nations Unies, Division de statistique, *Classification
  internationale type, par industrie, de toutes les branches d'activité économique
  (CITI), Rév.4* (Études statistiques, série M n° 4/Rév.4, New York, 2009), French
  structure file; one slip of it corrected (section Q reads "Santé et et activités
  d'action sociale" there).
- Arabic, ISIC Rev.4: the United Nations' Arabic edition (التصنيف الصناعي الدولي الموحد
  لجميع الأنشطة الاقتصادية، التنقيح 4), as used by Arab statistical offices.
- Arabic, ISCO-08: the wording of the ILO's Arabic version (التصنيف الدولي الموحد للمهن
  2008) as best known; Arabic editions of ISCO-08 in use differ in places (the Arab
  Labour Organization's ASCO-08, national adaptations). Check against the printed
  edition before publishing figures under these titles.

Titles keep each publisher's wording and punctuation, with plain ASCII apostrophes as in
``classifications.py``. The module is pure data: no function, no file read.
"""

from __future__ import annotations

ISCO08_FR: dict[str, str] = {
    "0": "Professions militaires",
    "01": "Officiers des forces armées",
    "02": "Sous-officiers des forces armées",
    "03": "Autres membres des forces armées",
    "1": "Directeurs, cadres de direction et gérants",
    "11": (
        "Directeurs généraux, cadres supérieurs et membres de l'exécutif et des corps législatifs"
    ),
    "12": "Directeurs de services administratifs et commerciaux",
    "13": "Directeurs et cadres de direction, production et services spécialisés",
    "14": (
        "Directeurs et gérants de l'hôtellerie, la restauration, le commerce et autres services"
    ),
    "2": "Professions intellectuelles et scientifiques",
    "21": "Spécialistes des sciences techniques",
    "22": "Spécialistes de la santé",
    "23": "Spécialistes de l'enseignement",
    "24": "Spécialistes en administration d'entreprises",
    "25": "Spécialistes des technologies de l'information et des communications",
    "26": "Spécialistes de la justice, des sciences sociales et de la culture",
    "3": "Professions intermédiaires",
    "31": "Professions intermédiaires des sciences et techniques",
    "32": "Professions intermédiaires de la santé",
    "33": "Professions intermédiaires, finance et administration",
    "34": "Professions intermédiaires des services juridiques, des services sociaux et assimilés",
    "35": "Techniciens de l'information et des communications",
    "4": "Employés de type administratif",
    "41": "Employés de bureau",
    "42": "Employés de réception, guichetiers et assimilés",
    "43": "Employés des services comptables et d'approvisionnement",
    "44": "Autres employés de type administratif",
    "5": "Personnel des services directs aux particuliers, commerçants et vendeurs",
    "51": "Personnel des services directs aux particuliers",
    "52": "Commerçants et vendeurs",
    "53": "Personnel soignant",
    "54": "Personnel des services de protection et de sécurité",
    "6": "Agriculteurs et ouvriers qualifiés de l'agriculture, de la sylviculture et de la pêche",
    "61": "Agriculteurs et ouvriers qualifiés de l'agriculture commerciale",
    "62": "Professions commerciales qualifiées de la sylviculture, de la pêche et de la chasse",
    "63": "Agriculteurs, pêcheurs, chasseurs et cueilleurs de subsistance",
    "7": "Métiers qualifiés de l'industrie et de l'artisanat",
    "71": "Métiers qualifiés du bâtiment et assimilés, sauf électriciens",
    "72": "Métiers qualifiés de la métallurgie, de la construction mécanique et assimilés",
    "73": "Métiers qualifiés de l'artisanat et de l'imprimerie",
    "74": "Métiers de l'électricité et de l'électrotechnique",
    "75": (
        "Métiers de l'alimentation, du travail sur bois, de l'habillement et autres métiers "
        "qualifiés de l'industrie et de l'artisanat"
    ),
    "8": "Conducteurs d'installations et de machines, et ouvriers de l'assemblage",
    "81": "Conducteurs de machines et d'installations fixes",
    "82": "Ouvriers de l'assemblage",
    "83": "Conducteurs de véhicules et d'engins lourds de levage et de manœuvre",
    "9": "Professions élémentaires",
    "91": "Aides de ménage",
    "92": "Manœuvres de l'agriculture, de la pêche et de la sylviculture",
    "93": (
        "Manœuvres des mines, du bâtiment et des travaux publics, des industries "
        "manufacturières et des transports"
    ),
    "94": "Assistants de fabrication de l'alimentation",
    "95": "Vendeurs ambulants et autres travailleurs des petits métiers des rues et assimilés",
    "96": "Éboueurs et autres travailleurs non qualifiés",
}

ISCO08_AR: dict[str, str] = {
    "0": "مهن القوات المسلحة",
    "01": "ضباط القوات المسلحة",
    "02": "ضباط الصف في القوات المسلحة",
    "03": "مهن القوات المسلحة، الرتب الأخرى",
    "1": "المديرون",
    "11": "الرؤساء التنفيذيون وكبار المسؤولين والمشرعون",
    "12": "المديرون الإداريون والتجاريون",
    "13": "مديرو الإنتاج والخدمات المتخصصة",
    "14": "مديرو الضيافة وتجارة التجزئة والخدمات الأخرى",
    "2": "الاختصاصيون",
    "21": "الاختصاصيون في العلوم والهندسة",
    "22": "الاختصاصيون في مجال الصحة",
    "23": "الاختصاصيون في التعليم",
    "24": "الاختصاصيون في الأعمال والإدارة",
    "25": "الاختصاصيون في تكنولوجيا المعلومات والاتصالات",
    "26": "الاختصاصيون في المجالات القانونية والاجتماعية والثقافية",
    "3": "الفنيون والاختصاصيون المساعدون",
    "31": "الاختصاصيون المساعدون في العلوم والهندسة",
    "32": "الاختصاصيون المساعدون في مجال الصحة",
    "33": "الاختصاصيون المساعدون في الأعمال والإدارة",
    "34": "الاختصاصيون المساعدون في المجالات القانونية والاجتماعية والثقافية وما يتصل بها",
    "35": "فنيو المعلومات والاتصالات",
    "4": "العاملون في الدعم المكتبي",
    "41": "الكتبة العامون وكتبة لوحات المفاتيح",
    "42": "كتبة خدمة العملاء",
    "43": "كتبة التسجيل الرقمي وتسجيل المواد",
    "44": "العاملون الآخرون في الدعم المكتبي",
    "5": "العاملون في الخدمات والمبيعات",
    "51": "العاملون في الخدمات الشخصية",
    "52": "العاملون في المبيعات",
    "53": "العاملون في الرعاية الشخصية",
    "54": "العاملون في خدمات الحماية",
    "6": "العمال المهرة في الزراعة والحراجة وصيد الأسماك",
    "61": "العمال المهرة في الزراعة الموجهة للسوق",
    "62": "العمال المهرة في الحراجة وصيد الأسماك والصيد البري الموجهة للسوق",
    "63": "المزارعون وصيادو الأسماك والصيادون وجامعو الثمار لأغراض الكفاف",
    "7": "العاملون في الحرف وما يتصل بها",
    "71": "العاملون في حرف البناء وما يتصل بها، باستثناء الكهربائيين",
    "72": "العاملون في حرف المعادن والآلات وما يتصل بها",
    "73": "العاملون في الحرف اليدوية والطباعة",
    "74": "العاملون في الحرف الكهربائية والإلكترونية",
    "75": "العاملون في تجهيز الأغذية وأشغال الخشب والملابس والحرف الأخرى وما يتصل بها",
    "8": "مشغلو المصانع والآلات والمجمعون",
    "81": "مشغلو المصانع والآلات الثابتة",
    "82": "المجمعون",
    "83": "السائقون ومشغلو المعدات المتنقلة",
    "9": "المهن الأولية",
    "91": "عمال التنظيف والمساعدون",
    "92": "عمال الزراعة والحراجة وصيد الأسماك",
    "93": "عمال التعدين والتشييد والصناعة التحويلية والنقل",
    "94": "مساعدو إعداد الطعام",
    "95": "العاملون في البيع والخدمات في الشوارع وما يتصل بها",
    "96": "عمال جمع النفايات والعاملون الآخرون في المهن الأولية",
}

ISIC4_FR: dict[str, str] = {
    "A": "Agriculture, sylviculture et pêche",
    "B": "Activités extractives",
    "C": "Activités de fabrication",
    "D": "Production et distribution d'électricité, de gaz, de vapeur et climatisation",
    "E": (
        "Distribution d'eau; réseau d'assainissement; gestion des déchets et activités de "
        "remise en état"
    ),
    "F": "Construction",
    "G": "Commerce de gros et de détail, réparations de véhicules automobiles et de motocycles",
    "H": "Transport et entreposage",
    "I": "Activités d'hébergement et de restauration",
    "J": "Information et communication",
    "K": "Activités financières et d'assurances",
    "L": "Activités immobilières",
    "M": "Activités professionnelles, scientifiques et techniques",
    "N": "Activités de services administratifs et d'appui",
    "O": "Administration publique et défense; sécurité sociale obligatoire",
    "P": "Éducation",
    "Q": "Santé et activités d'action sociale",
    "R": "Arts, spectacles et loisirs",
    "S": "Autres activités de services",
    "T": (
        "Activités des ménages privés employant du personnel domestique; activités non "
        "différenciées de production de biens et de services des ménages privés pour usage "
        "propre"
    ),
    "U": "Activités des organisations et organismes extra-territoriaux",
}

ISIC4_AR: dict[str, str] = {
    "A": "الزراعة والحراجة وصيد الأسماك",
    "B": "التعدين واستغلال المحاجر",
    "C": "الصناعة التحويلية",
    "D": "إمدادات الكهرباء والغاز والبخار وتكييف الهواء",
    "E": "إمدادات المياه؛ أنشطة الصرف الصحي وإدارة النفايات ومعالجتها",
    "F": "التشييد",
    "G": "تجارة الجملة والتجزئة؛ إصلاح المركبات ذات المحركات والدراجات النارية",
    "H": "النقل والتخزين",
    "I": "أنشطة خدمات الإقامة والطعام",
    "J": "المعلومات والاتصالات",
    "K": "الأنشطة المالية وأنشطة التأمين",
    "L": "الأنشطة العقارية",
    "M": "الأنشطة المهنية والعلمية والتقنية",
    "N": "أنشطة الخدمات الإدارية وخدمات الدعم",
    "O": "الإدارة العامة والدفاع؛ الضمان الاجتماعي الإلزامي",
    "P": "التعليم",
    "Q": "أنشطة صحة الإنسان والعمل الاجتماعي",
    "R": "الفنون والترفيه والتسلية",
    "S": "أنشطة الخدمات الأخرى",
    "T": (
        "أنشطة الأسر المعيشية كصاحبة عمل؛ أنشطة الأسر المعيشية في إنتاج سلع وخدمات غير مميزة "
        "لاستعمالها الخاص"
    ),
    "U": "أنشطة المنظمات والهيئات غير الخاضعة للولاية القضائية الوطنية",
}
